/**
 * The WAL source's main loop: XLogData from the stream is decoded and assembled into events,
 * batches go to the store, and the slot is acknowledged only once a batch is durable.
 *
 * What it promises:
 * - **Ack after durable, keepalives too.** `stream.ack()` is called for a batch's `ackLsn` only
 *   after `ctx.emit()` of that batch resolved. When everything taken is stored and no
 *   transaction is open, the ack is an idle one; a keepalive that comes then (held by the
 *   stream) moves the stored position to its WAL end in a batch of its own — at most one a
 *   second, at once when the server asks for a reply — and only then is the slot confirmed
 *   there. So a quiet slot does not hold WAL, a server shutting down is not kept waiting, and
 *   the slot is never ahead of the store: a slot found ahead at start is a gap (`gaps.ts`).
 * - **Bounded memory.** One batch is being stored while at most one more is assembled; a full
 *   batch stops reading until the one in flight is durable, and the stream reads the socket only
 *   when asked, so a slow store slows the server instead of filling memory. Never two batches
 *   in flight: each carries a position that covers everything before it, so a later batch made
 *   durable after an earlier one failed would claim events that were never stored. Events from
 *   outside the stream ({@link StreamPump.inject}: alarms) join the next batch.
 * - **Low latency without busy timers.** A batch is stored as soon as the stream has nothing
 *   more buffered, or the batch in flight is done, or it is full; a short timer covers the
 *   case where bytes of a message that is not needed now (a keepalive) are still buffered.
 * - **Prompt stop.** When the signal aborts, the batch in flight is awaited (and acked), the
 *   stream is closed with a last status update, and `run()` resolves.
 */

import { type SourceContext, SourceError } from "../../daemon/source.ts";
import type { NewEvent } from "../../daemon/event/model.ts";
import type { ChangeAssembler, ChangeBatch } from "./changes.ts";
import { formatLsn } from "./lsn.ts";
import { decodePayload } from "./pgoutput.ts";
import type { ReplicationStream, XLogData } from "./replication.ts";

/** What the pump needs besides the stream and the assembler. */
export interface PumpOptions {
  slot: string;
  server: string;
  batchMaxEvents: number;
  flushIntervalMs: number;
  /** The end LSN the store already holds: acks at or below it would say nothing new. */
  durableLsn: bigint;
  /** True when no byte of the stream is buffered, i.e. the next read waits for the server. */
  drained: () => boolean;
}

/** A batch as stored: the assembler's, with injected events; no position if only those. */
type PumpBatch = Omit<ChangeBatch, "position"> & { position: string | undefined };

/** What ends a wait for the next message early: abort, a flush timer, a store failure. */
const INTERRUPT = Symbol("interrupt");

/** Least time between two batches that only store a keepalive's position. */
const KEEPALIVE_STORE_MS = 1000;

/** Runs one started stream into `ctx` until the signal aborts or something fails. */
export class StreamPump {
  readonly #ctx: SourceContext;
  readonly #stream: ReplicationStream;
  readonly #assembler: ChangeAssembler;
  readonly #opts: PumpOptions;
  /** `walStart` of the last XLogData taken, and how many were taken so far. */
  #lastTaken: bigint | undefined;
  #takenCount = 0;
  /** The highest LSN acked so far (idle or not). */
  #acked: bigint;
  /** `#takenCount` at the last idle ack: nothing taken since means the stream knows it. */
  #idleAckedAt = -1;
  /** Something was taken (or a batch started) since the last flush. */
  #dirty = false;
  /** The batch being stored and acked; never rejects (failures land in `#failure`). */
  #inflight: Promise<void> | undefined;
  #failure: SourceError | undefined;
  #stopping = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The current wait for a message; a fresh one each time, so nothing long-lived piles up. */
  #waiter: PromiseWithResolvers<IteratorResult<XLogData> | typeof INTERRUPT> | undefined;
  /** The flush timer fired (or a batch failed) while nobody was waiting. */
  #wakePending = false;
  /** Events from outside the stream for the next batch. */
  #injected: NewEvent[] = [];
  #keepaliveTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    ctx: SourceContext,
    stream: ReplicationStream,
    assembler: ChangeAssembler,
    opts: PumpOptions,
  ) {
    this.#ctx = ctx;
    this.#stream = stream;
    this.#assembler = assembler;
    this.#opts = opts;
    this.#acked = opts.durableLsn;
    stream.onIdleKeepalive = (reply) => this.#keepaliveHeld(reply);
  }

  /** Stores `events` with the next batch (at once if the stream is quiet). */
  inject(events: NewEvent[]): void {
    if (this.#stopping || events.length === 0) return;
    this.#injected.push(...events);
    this.#dirty = true;
    this.#interrupt();
  }

  /** Streams until the signal aborts (resolves) or a stage fails (rejects with SourceError). */
  async run(): Promise<void> {
    const { signal } = this.#ctx;
    const onAbort = (): void => this.#waiter?.resolve(INTERRUPT);
    signal.addEventListener("abort", onAbort, { once: true });
    let next: Promise<IteratorResult<XLogData>> | undefined;
    try {
      for (;;) {
        if (this.#failure) throw this.#failure;
        if (signal.aborted) break;
        if (this.#wakePending) {
          this.#wakePending = false;
          if (this.#inflight === undefined && this.#dirty) this.#startFlush();
        }
        if (next === undefined) {
          next = this.#stream.next();
          next.catch(() => {}); // Seen through the waiter; not unhandled when we stop.
        }
        const waiter = this.#waiter = Promise.withResolvers();
        next.then(waiter.resolve, waiter.reject);
        let got: IteratorResult<XLogData> | typeof INTERRUPT;
        try {
          got = await waiter.promise;
        } catch (error) {
          throw this.#receiveError(error);
        } finally {
          this.#waiter = undefined;
        }
        if (got === INTERRUPT) continue;
        next = undefined;
        if (got.done) throw this.#receiveError(new Error("the stream ended"));
        this.#take(got.value);
        if (this.#assembler.pending >= this.#opts.batchMaxEvents) await this.#flushFull();
        else this.#scheduleFlush();
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#stopping = true;
      clearTimeout(this.#timer);
      clearTimeout(this.#keepaliveTimer);
      while (this.#inflight !== undefined) await this.#inflight;
    }
    if (this.#failure) throw this.#failure;
  }

  #interrupt(): void {
    this.#wakePending = true;
    this.#waiter?.resolve(INTERRUPT);
  }

  /** Decodes and assembles one message. */
  #take(msg: XLogData): void {
    this.#lastTaken = msg.walStart;
    this.#takenCount++;
    this.#dirty = true;
    try {
      this.#assembler.push(decodePayload({ lsn: msg.walStart, data: msg.payload }));
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new SourceError(
        "decode",
        `Cannot decode the stream of slot "${this.#opts.slot}" on ${this.#opts.server} at LSN ` +
          `${formatLsn(msg.walStart)}: ${why}`,
        { cause: error },
      );
    }
  }

  /** After a message: store now if the stream is drained, else soon, unless a batch is out. */
  #scheduleFlush(): void {
    if (this.#inflight !== undefined) return; // Its completion flushes what gathers meanwhile.
    if (this.#opts.drained()) return this.#startFlush();
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#interrupt();
    }, this.#opts.flushIntervalMs);
  }

  /** A keepalive is held for us: store its position soon, or now if the server waits. */
  #keepaliveHeld(replyRequested: boolean): void {
    if (this.#keepaliveTimer !== undefined && !replyRequested) return;
    clearTimeout(this.#keepaliveTimer);
    this.#keepaliveTimer = setTimeout(() => {
      this.#keepaliveTimer = undefined;
      this.#dirty = true;
      this.#interrupt();
    }, replyRequested ? 0 : KEEPALIVE_STORE_MS);
  }

  /** A full batch waits for the one in flight: this is where the store holds the stream back. */
  async #flushFull(): Promise<void> {
    while (this.#assembler.pending >= this.#opts.batchMaxEvents) {
      if (this.#inflight !== undefined) await this.#inflight;
      else this.#startFlush();
      if (this.#failure) throw this.#failure;
    }
  }

  /** Takes what the assembler released and stores it, then acks; nothing may be in flight. */
  #startFlush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dirty = false;
    const open = this.#assembler.inTransaction;
    // A held keepalive: the server sent everything before its WAL end, all of it taken.
    const held = this.#stream.idleKeepalive;
    const keepalive = !open && held !== undefined && held > this.#acked ? held : undefined;
    if (keepalive !== undefined) this.#assembler.advanceIdle(keepalive);
    const taken = this.#assembler.take();
    const injected = this.#injected;
    this.#injected = [];
    const batch = injected.length === 0 ? taken : {
      events: [...taken?.events ?? [], ...injected],
      position: taken?.position,
      ackLsn: taken?.ackLsn ?? this.#acked,
    };
    // Nothing pending and no transaction open: everything taken is in this batch (or made no
    // event), so once it is durable the last message taken (or the keepalive after it) may be
    // acked as idle.
    const idle = open ? undefined : later(this.#lastTaken, keepalive);
    if (batch === undefined && (idle === undefined || this.#idleAckedAt === this.#takenCount)) {
      return;
    }
    this.#inflight = this.#store(batch, idle, this.#takenCount).then(
      () => {
        this.#inflight = undefined;
        if (this.#dirty && !this.#stopping) this.#startFlush();
      },
      (error: unknown) => {
        this.#inflight = undefined;
        this.#failure ??= error instanceof SourceError ? error : this.#receiveError(error);
        this.#interrupt();
      },
    );
  }

  /**
   * Stores `batch` (if any), then acks. `idle` is the last message taken when the batch was
   * taken, if no transaction was open then; `taken` is how many messages had been taken.
   */
  async #store(
    batch: PumpBatch | undefined,
    idle: bigint | undefined,
    taken: number,
  ): Promise<void> {
    if (batch !== undefined) {
      try {
        const { events, position } = batch;
        await this.#ctx.emit(position === undefined ? { events } : { events, position });
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        throw new SourceError(
          "store",
          `Cannot store ${batch.events.length} events of slot "${this.#opts.slot}" on ` +
            `${this.#opts.server} up to position ${batch.position ?? "(unchanged)"}; the ` +
            `slot stays at ${formatLsn(this.#acked)}: ${why}`,
          { cause: error },
        );
      }
    }
    if (!this.#ack(batch, idle, taken)) return;
    // Confirm now rather than at the next periodic update: the server may free WAL sooner, and
    // a failure to send shows up as a receive error on the next read.
    await this.#stream.sendStatus().catch(() => {});
  }

  /** Acks what just became durable; true when the stream was told something new. */
  #ack(batch: PumpBatch | undefined, idle: bigint | undefined, taken: number): boolean {
    const stream = this.#stream;
    if (idle !== undefined && idle >= this.#acked) {
      // Idle only if nothing was taken since (the tracker then holds keepalives after it);
      // counted, because the next transaction's Begin may start at the very same LSN. The
      // stream's own count matters too: a message it handed over while a flush interrupted
      // the wait is pending although this pump has not processed it yet.
      if (taken === this.#takenCount && stream.takenCount === taken) {
        if (this.#idleAckedAt === taken && idle === this.#acked) return false;
        stream.ack(idle, { idle: true });
        this.#idleAckedAt = taken;
      } else {
        if (idle === this.#acked) return false;
        stream.ack(idle);
      }
      this.#acked = idle;
      return true;
    }
    if (batch === undefined || batch.ackLsn <= this.#acked) return false;
    stream.ack(batch.ackLsn);
    this.#acked = batch.ackLsn;
    return true;
  }

  #receiveError(error: unknown): SourceError {
    if (error instanceof SourceError) return error;
    const why = error instanceof Error ? error.message : String(error);
    const at = this.#lastTaken === undefined ? "" : ` after LSN ${formatLsn(this.#lastTaken)}`;
    return new SourceError(
      "receive",
      `Cannot receive from slot "${this.#opts.slot}" on ${this.#opts.server}${at}: ${why}`,
      { cause: error },
    );
  }
}

/** The later of two LSNs, either of which may be unknown. */
function later(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  return a === undefined ? b : b === undefined || a >= b ? a : b;
}
