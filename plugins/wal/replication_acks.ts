/**
 * The ack discipline of a replication stream, apart from any I/O: which position a Standby
 * Status Update may report as flushed. The answer is what the caller declared durable — never
 * what was merely received — with one exception the caller must ask for: when it says it is
 * idle (everything it took is stored), a keepalive's WAL end may be confirmed too, because the
 * server has then sent everything up to it and nothing of it is pending here.
 *
 * With `holdKeepalives`, even that is not confirmed on its own: the keepalive's WAL end is only
 * noted ({@link AckTracker.idleKeepalive}), and the caller acks it once it has made it durable
 * too — so that the slot is never confirmed past the position its store holds, and a slot found
 * further on at the next start can only mean that someone else moved it.
 */
import { formatLsn } from "./lsn.ts";

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

/** Options of {@link AckTracker}. */
export interface AckTrackerOptions {
  /** Note keepalives seen while idle instead of confirming them; see the module documentation. */
  holdKeepalives?: boolean;
}

/** Tracks acks, taken messages and keepalives of one stream. */
export class AckTracker {
  #slot: string;
  #hold: boolean;
  /** The highest keepalive WAL end seen while idle (held keepalives only). */
  #idleKeepalive: bigint | undefined;
  #durable: bigint;
  #lastAck: bigint;
  #confirmed: bigint;
  #idle = false;
  /** `walStart` of the last XLogData taken; undefined before the first. */
  #lastTaken: bigint | undefined;
  #takenCount = 0;

  /**
   * `startLsn` is where the stream starts (durable by definition, the floor of every report);
   * `resumeLsn` is what the caller asked for, below which its acks may not go.
   */
  constructor(slot: string, startLsn: bigint, resumeLsn: bigint, opts: AckTrackerOptions = {}) {
    this.#slot = slot;
    this.#hold = opts.holdKeepalives ?? false;
    this.#durable = this.#confirmed = startLsn;
    this.#lastAck = resumeLsn;
  }

  /** What the caller declared durable, or where the stream started. */
  get durable(): bigint {
    return this.#durable;
  }

  /**
   * With `holdKeepalives`: the highest WAL end of a keepalive that came while idle. Everything
   * before it was sent and taken, so the caller may make it durable and then ack it (as idle).
   */
  get idleKeepalive(): bigint | undefined {
    return this.#idleKeepalive;
  }

  /**
   * How many XLogData were handed to the caller. A caller that reads ahead compares it with
   * what it has processed before acking as idle: a message handed over but not yet processed
   * is pending, even when it starts at the LSN being acked.
   */
  get takenCount(): number {
    return this.#takenCount;
  }

  /** What a status update reports as written, flushed and applied. */
  get confirmed(): bigint {
    return this.#confirmed;
  }

  /**
   * Declares everything up to `lsn` durable. Throws `RangeError` when `lsn` is behind an
   * earlier ack — a position never goes backwards — and when an idle ack is not for the last
   * message taken (or a held keepalive past it), since a message taken after it may still be
   * on its way to the store.
   */
  ack(lsn: bigint, opts: AckOptions = {}): void {
    const cannot = `Cannot ack ${formatLsn(lsn)} on slot "${this.#slot}"`;
    if (lsn < this.#lastAck) {
      throw new RangeError(`${cannot}: ${formatLsn(this.#lastAck)} was acked before`);
    }
    const last = this.#lastTaken;
    const held = this.#idleKeepalive;
    const atKeepalive = held !== undefined && lsn <= held && (last === undefined || lsn >= last);
    if (opts.idle && last !== undefined && last !== lsn && !atKeepalive) {
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
    this.#takenCount++;
  }

  /**
   * Notes a keepalive. Every message before it in the stream has been taken, so when the
   * caller is idle nothing up to `walEnd` is pending for this slot. Returns true when it was
   * held (see `holdKeepalives`) and is further than any held before: the caller has work.
   */
  keepalive(walEnd: bigint): boolean {
    if (!this.#idle || walEnd <= this.#confirmed) return false;
    if (!this.#hold) {
      this.#confirmed = walEnd;
      return false;
    }
    if (this.#idleKeepalive !== undefined && walEnd <= this.#idleKeepalive) return false;
    this.#idleKeepalive = walEnd;
    return true;
  }
}
