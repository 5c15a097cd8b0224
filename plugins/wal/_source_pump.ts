/**
 * The WAL source's main loop: XLogData from the stream is decoded and assembled into events,
 * batches go to the store, and the slot is acknowledged only once a batch is durable.
 *
 * What it promises:
 * - **Ack after durable.** `stream.ack()` is called for a batch's `ackLsn` only after
 *   `ctx.emit()` of that batch resolved. When everything taken from the stream is stored and no
 *   transaction is open, the ack is an idle one (at the last message taken), so that keepalive
 *   positions are confirmed too — a quiet slot does not hold WAL, and a server shutting down,
 *   which waits for its walsenders to be confirmed, is not kept waiting.
 * - **Bounded memory.** One batch is being stored while at most one more is assembled; a full
 *   batch stops reading until the one in flight is durable, and the stream reads the socket only
 *   when asked, so a slow store slows the server instead of filling memory. Never two batches
 *   in flight: each carries a position that covers everything before it, so a later batch made
 *   durable after an earlier one failed would claim events that were never stored.
 * - **Low latency without busy timers.** A batch is stored as soon as the stream has nothing
 *   more buffered, or the batch in flight is done, or it is full; a short timer covers the
 *   case where bytes of a message that is not needed now (a keepalive) are still buffered.
 * - **Prompt stop.** When the signal aborts, the batch in flight is awaited (and acked), the
 *   stream is closed with a last status update, and `run()` resolves.
 */

import { type SourceContext, SourceError } from "../../daemon/source.ts";
import type { ChangeAssembler, ChangeBatch } from "./_changes.ts";
import { formatLsn } from "./_lsn.ts";
import { decodePayload } from "./_pgoutput.ts";
import type { ReplicationStream, XLogData } from "./_replication.ts";

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

/** What ends a wait for the next message early: abort, a flush timer, a store failure. */
const INTERRUPT = Symbol("interrupt");

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
    const batch = this.#assembler.take();
    // Nothing pending and no transaction open: everything taken is in this batch (or made no
    // event), so once it is durable the last message taken may be acked as idle.
    const idle = this.#assembler.inTransaction ? undefined : this.#lastTaken;
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
    batch: ChangeBatch | undefined,
    idle: bigint | undefined,
    taken: number,
  ): Promise<void> {
    if (batch !== undefined) {
      try {
        await this.#ctx.emit({ events: batch.events, position: batch.position });
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        throw new SourceError(
          "store",
          `Cannot store ${batch.events.length} events of slot "${this.#opts.slot}" on ` +
            `${this.#opts.server} up to position ${batch.position}; the slot stays at ` +
            `${formatLsn(this.#acked)}: ${why}`,
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
  #ack(batch: ChangeBatch | undefined, idle: bigint | undefined, taken: number): boolean {
    const stream = this.#stream;
    if (idle !== undefined && idle >= this.#acked) {
      // Idle only if nothing was taken since (the tracker then confirms keepalives after it);
      // counted, because the next transaction's Begin may start at the very same LSN.
      if (taken === this.#takenCount) {
        if (this.#idleAckedAt === taken) return false;
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
