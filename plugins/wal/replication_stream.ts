/**
 * The CopyBoth phase of logical replication: an async iterator of XLogData messages, with
 * keepalives answered inside. The promises it keeps:
 *
 * - **Ack discipline.** Every Standby Status Update reports as written, flushed and applied
 *   only what the caller declared durable with {@link ReplicationStream.ack} — never what was
 *   merely received — so a crash before the store's fsync loses nothing: the server re-sends.
 * - **Liveness.** A keepalive that asks for a reply is answered at once, and a status update
 *   goes out every `statusIntervalMs` whether or not the caller reads, so `wal_sender_timeout`
 *   does not fire while a slow consumer holds the stream.
 * - **Backpressure.** The socket is read only when the caller asks for the next message and
 *   none is buffered; a lagging consumer leaves bytes in the kernel, and the server waits.
 *   Payloads are views into the read buffer, not copies, and stay valid after the next read.
 *
 * Failures end the stream with a stage-`replicate` {@link ReplicationError} (or {@link PgError}
 * when the server said why) naming the slot, the server and the last LSN received.
 */
import {
  copyDone,
  parseNotice,
  type PgConnection,
  PgError,
  ReplicationError,
  standbyStatusUpdate,
} from "../../daemon/pgwire/mod.ts";
import { formatLsn } from "./lsn.ts";
import { type AckOptions, AckTracker } from "./replication_acks.ts";
import { PG_EPOCH_OFFSET_MICROS, pgNowMicros } from "./replication_time.ts";

/** One XLogData ('w') message: the output plugin's bytes for one WAL record. */
export interface XLogData {
  /** WAL position the data starts at (for pgoutput: the record's LSN; a Commit's end LSN). */
  walStart: bigint;
  /** The server's WAL end at the time of sending (pgoutput sets it equal to `walStart`). */
  walEnd: bigint;
  /** When the server sent it, µs since the Unix epoch. */
  serverTime: bigint;
  /** The output plugin's message (pgoutput). A view: keep it or decode it, no copy needed. */
  payload: Uint8Array;
}

/** Settings of a started stream. */
export interface StreamSettings {
  slot: string;
  /** The position the caller asked to resume from; its acks may not go below it. */
  resumeLsn: bigint;
  /**
   * Where the stream really starts: the later of `resumeLsn` and the slot's confirmed
   * position. Durable by definition, and the floor of every status update.
   */
  startLsn: bigint;
  /** Interval of unsolicited status updates; keep it well under `wal_sender_timeout`. */
  statusIntervalMs: number;
  /** How long `close()` waits for the server to end the stream cleanly. */
  closeTimeoutMs: number;
  /** Hold keepalives seen while idle for the caller to ack (see `AckTrackerOptions`). */
  holdKeepalives?: boolean;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** A running logical replication stream; made by `ReplicationClient.start()`. */
export class ReplicationStream implements AsyncIterableIterator<XLogData>, AsyncDisposable {
  #conn: PgConnection;
  #settings: StreamSettings;
  #acks: AckTracker;
  #received: bigint;
  #state: "streaming" | "closing" | "closed" = "streaming";
  #failure: ReplicationError | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  /**
   * Called when a keepalive is held (see `holdKeepalives`) — the caller should make its WAL
   * end durable and ack it — with whether the server asked for a reply (it may be waiting).
   */
  onIdleKeepalive: ((replyRequested: boolean) => void) | undefined;

  constructor(conn: PgConnection, settings: StreamSettings) {
    this.#conn = conn;
    this.#settings = settings;
    this.#acks = new AckTracker(settings.slot, settings.startLsn, settings.resumeLsn, {
      holdKeepalives: settings.holdKeepalives ?? false,
    });
    this.#received = settings.startLsn;
    this.#timer = setInterval(() => {
      this.#sendStatus().catch((error) => this.#failure ??= this.#wrap(error));
    }, settings.statusIntervalMs);
  }

  /** What the caller declared durable (see {@link ack}), or where the stream started. */
  get durableLsn(): bigint {
    return this.#acks.durable;
  }

  /** What status updates report as flushed: the durable LSN, or a keepalive's when idle. */
  get confirmedLsn(): bigint {
    return this.#acks.confirmed;
  }

  /** How many XLogData `next()` has handed out on this stream; see `AckTracker.takenCount`. */
  get takenCount(): number {
    return this.#acks.takenCount;
  }

  /** A keepalive's WAL end held for the caller to ack; see `AckTracker.idleKeepalive`. */
  get idleKeepalive(): bigint | undefined {
    return this.#acks.idleKeepalive;
  }

  /** The highest WAL position the server reported (XLogData or keepalive), for lag metrics. */
  get receivedLsn(): bigint {
    return this.#received;
  }

  /**
   * Declares everything up to `lsn` durable (see {@link AckTracker.ack}); the next status
   * update reports it. Throws `RangeError` for an ack that goes backwards or a wrong idle ack.
   */
  ack(lsn: bigint, opts: AckOptions = {}): void {
    this.#acks.ack(lsn, opts);
  }

  /** Sends a status update now (after an ack, to confirm it without waiting). */
  async sendStatus(): Promise<void> {
    if (this.#state !== "streaming") return;
    await this.#sendStatus();
  }

  /** The next XLogData; done after `close()`. Calls are served one after another. */
  next(): Promise<IteratorResult<XLogData>> {
    const result = this.#queue.then(() => this.#next());
    this.#queue = result.catch(() => {});
    return result;
  }

  /** Ends the stream (a `for await` that breaks lands here). */
  async return(): Promise<IteratorResult<XLogData>> {
    await this.close();
    return DONE;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Sends a last status update and CopyDone, waits (up to `closeTimeoutMs`) for the server to
   * end the stream, then terminates the connection. Messages still in flight are dropped: not
   * acked, they come again on the next start. Safe to call more than once.
   */
  close(): Promise<void> {
    if (this.#state === "streaming") {
      this.#state = "closing";
      clearInterval(this.#timer);
      this.#closing = this.#closeCleanly();
    }
    return this.#closing ?? Promise.resolve();
  }

  async #next(): Promise<IteratorResult<XLogData>> {
    const reader = this.#conn.reader;
    for (;;) {
      if (this.#state !== "streaming") return DONE; // close() drains what is left.
      if (this.#failure) throw this.#end(this.#failure);
      let message;
      try {
        message = reader.take();
        if (!message) {
          if (await reader.fill()) continue;
          if (this.#state !== "streaming") return DONE;
          throw this.#error("the server closed the connection");
        }
      } catch (error) {
        if (this.#state !== "streaming") return DONE;
        throw this.#end(this.#wrap(error));
      }
      const { type, payload } = message;
      if (type === 0x64 && payload[0] === 0x77) {
        return { done: false, value: this.#xlogData(payload) };
      }
      if (type === 0x64 && payload[0] === 0x6b) {
        await this.#keepalive(payload);
      } else if (type === 0x45) { // 'E'
        const what = `Replication from slot "${this.#settings.slot}" on ${this.#conn.server} ` +
          `stopped at LSN ${formatLsn(this.#received)}`;
        const notice = parseNotice(payload);
        throw this.#end(new PgError("replicate", what, notice, this.#context()));
      } else if (type === 0x63) { // 'c' CopyDone: the server ends the stream
        await this.#conn.send(copyDone(), "replicate").catch(() => {});
        throw this.#end(this.#error("the server ended the replication stream"));
      } else if (type === 0x43) { // 'C' without CopyDone: a walsender leaving at shutdown
        throw this.#end(this.#error("the server ended the replication stream (shutdown)"));
      } else {
        try {
          this.#conn.handleAsync(type, payload, "replicate");
        } catch (error) {
          throw this.#end(this.#wrap(error));
        }
      }
    }
  }

  #xlogData(payload: Uint8Array): XLogData {
    const view = this.#viewOf(payload);
    const at = payload.byteOffset;
    const walStart = view.getBigUint64(at + 1);
    const walEnd = view.getBigUint64(at + 9);
    if (walEnd > this.#received) this.#received = walEnd;
    this.#acks.taken(walStart);
    return {
      walStart,
      walEnd,
      serverTime: view.getBigInt64(at + 17) + PG_EPOCH_OFFSET_MICROS,
      payload: payload.subarray(25),
    };
  }

  async #keepalive(payload: Uint8Array): Promise<void> {
    const view = this.#viewOf(payload);
    const walEnd = view.getBigUint64(payload.byteOffset + 1);
    if (walEnd > this.#received) this.#received = walEnd;
    if (this.#acks.keepalive(walEnd)) this.onIdleKeepalive?.(payload[17] === 1);
    if (payload[17] === 1) {
      try {
        await this.#sendStatus();
      } catch (error) {
        throw this.#end(this.#wrap(error));
      }
    }
  }

  #sendStatus(): Promise<void> {
    const lsn = this.#acks.confirmed;
    const update = standbyStatusUpdate({ write: lsn, flush: lsn, apply: lsn }, pgNowMicros());
    return this.#conn.send(update, "replicate");
  }

  async #closeCleanly(): Promise<void> {
    const timer = setTimeout(() => this.#conn.abort(), this.#settings.closeTimeoutMs);
    try {
      await this.#sendStatus();
      await this.#conn.send(copyDone(), "replicate");
      await this.#queue; // A next() in flight returns once it sees the state.
      await this.#drain();
      await this.#conn.close();
    } catch {
      /* Going away anyway; the server re-sends whatever was not acked. */
    } finally {
      clearTimeout(timer);
      this.#conn.abort();
      this.#state = "closed";
    }
  }

  /** Skips messages up to the server's ReadyForQuery after the CopyDone exchange. */
  async #drain(): Promise<void> {
    const reader = this.#conn.reader;
    for (;;) {
      const message = reader.take();
      if (!message) {
        if (await reader.fill()) continue;
        return;
      }
      if (message.type === 0x5a) return; // 'Z'
    }
  }

  #viewOf(payload: Uint8Array): DataView {
    if (this.#view.buffer !== payload.buffer) this.#view = new DataView(payload.buffer);
    return this.#view;
  }

  #end(error: ReplicationError): ReplicationError {
    this.#state = "closed";
    clearInterval(this.#timer);
    this.#conn.abort();
    return error;
  }

  #context(cause?: unknown): { server: string; lsn: bigint; cause?: unknown } {
    const context = { server: this.#conn.server, lsn: this.#received };
    return cause === undefined ? context : { ...context, cause };
  }

  #error(why: string, cause?: unknown): ReplicationError {
    const what = `Replication from slot "${this.#settings.slot}" on ${this.#conn.server} ` +
      `stopped at LSN ${formatLsn(this.#received)}: ${why}`;
    return new ReplicationError("replicate", what, this.#context(cause));
  }

  #wrap(error: unknown): ReplicationError {
    if (error instanceof ReplicationError && error.lsn !== undefined) return error;
    return this.#error(error instanceof Error ? error.message : String(error), error);
  }
}
