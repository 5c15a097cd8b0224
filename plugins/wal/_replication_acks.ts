/**
 * The ack discipline of a replication stream, apart from any I/O: which position a Standby
 * Status Update may report as flushed. The answer is what the caller declared durable — never
 * what was merely received — with one exception the caller must ask for: when it says it is
 * idle (everything it took is stored), a keepalive's WAL end may be confirmed too, because the
 * server has then sent everything up to it and nothing of it is pending here.
 */
import { formatLsn } from "./_lsn.ts";

/** Options of {@link AckTracker.ack}. */
export interface AckOptions {
  /**
   * True when nothing taken from the stream is pending beyond `lsn`: it is the `walStart` of
   * the last message taken (for pgoutput a Commit's, which is the commit's end LSN) and that
   * message is stored. Until the next XLogData is taken, keepalive positions are then reported
   * as flushed, so that a slot on a quiet database does not hold WAL forever and a server
   * shutting down (which waits for its walsenders to be confirmed) is not kept waiting.
   */
  idle?: boolean;
}

/** Tracks acks, taken messages and keepalives of one stream. */
export class AckTracker {
  #slot: string;
  #durable: bigint;
  #lastAck: bigint;
  #confirmed: bigint;
  #idle = false;
  /** `walStart` of the last XLogData taken; undefined before the first. */
  #lastTaken: bigint | undefined;

  /**
   * `startLsn` is where the stream starts (durable by definition, the floor of every report);
   * `resumeLsn` is what the caller asked for, below which its acks may not go.
   */
  constructor(slot: string, startLsn: bigint, resumeLsn: bigint) {
    this.#slot = slot;
    this.#durable = this.#confirmed = startLsn;
    this.#lastAck = resumeLsn;
  }

  /** What the caller declared durable, or where the stream started. */
  get durable(): bigint {
    return this.#durable;
  }

  /** What a status update reports as written, flushed and applied. */
  get confirmed(): bigint {
    return this.#confirmed;
  }

  /**
   * Declares everything up to `lsn` durable. Throws `RangeError` when `lsn` is behind an
   * earlier ack — a position never goes backwards — and when an idle ack is not for the last
   * message taken, since a message taken after it may still be on its way to the store.
   */
  ack(lsn: bigint, opts: AckOptions = {}): void {
    const cannot = `Cannot ack ${formatLsn(lsn)} on slot "${this.#slot}"`;
    if (lsn < this.#lastAck) {
      throw new RangeError(`${cannot}: ${formatLsn(this.#lastAck)} was acked before`);
    }
    const last = this.#lastTaken;
    if (opts.idle && last !== undefined && last !== lsn) {
      throw new RangeError(
        `${cannot} as idle: the last message taken starts at ${formatLsn(last)}, not there`,
      );
    }
    this.#lastAck = lsn;
    if (lsn > this.#durable) this.#durable = lsn;
    if (lsn > this.#confirmed) this.#confirmed = lsn;
    this.#idle = opts.idle === true;
  }

  /** Notes an XLogData handed to the caller: from now on it is pending, so not idle. */
  taken(walStart: bigint): void {
    this.#idle = false;
    this.#lastTaken = walStart;
  }

  /**
   * Notes a keepalive. Every message before it in the stream has been taken, so when the
   * caller is idle nothing up to `walEnd` is pending for this slot.
   */
  keepalive(walEnd: bigint): void {
    if (this.#idle && walEnd > this.#confirmed) this.#confirmed = walEnd;
  }
}
