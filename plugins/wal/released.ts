/**
 * The events the assembler has released for storing, and the stream position they reach
 * together — what one `take()` hands to the store as one batch. The position only moves
 * forward: past each released event of a transaction (`txn=`), past each non-transactional
 * message (`msg=`), and to the end of each transaction once all its events are out.
 */

import type { NewEvent } from "../../daemon/event/model.ts";
import { formatWalPosition, type WalPosition } from "./position.ts";

/** Released events and the position that becomes durable with them. */
export interface ChangeBatch {
  events: NewEvent[];
  /** Store as `AppendBatch.position`, in the same append as `events`. */
  position: string;
  /** Once the batch is durable, the slot may be acknowledged (flush LSN) up to here. */
  ackLsn: bigint;
}

/** Released events not yet taken, and where they bring the stream. */
export class ReleasedEvents {
  #out: NewEvent[] = [];
  #pos: WalPosition;
  #moved = false;

  constructor(start: WalPosition) {
    this.#pos = { ...start };
  }

  /** Events released and not yet taken. */
  get pending(): number {
    return this.#out.length;
  }

  /** The position after the last released event (a copy). */
  get position(): WalPosition {
    return { ...this.#pos };
  }

  /** Releases the event at `index` of the transaction that commits at `commitLsn`. */
  add(ev: NewEvent, commitLsn: bigint, index: number): void {
    this.#out.push(ev);
    this.#pos.partial = { commitLsn, index };
    this.#moved = true;
  }

  /** Releases the event of a non-transactional message at `lsn`. */
  addLoose(ev: NewEvent, lsn: bigint): void {
    this.#out.push(ev);
    this.passLoose(lsn);
  }

  /**
   * Records a non-transactional message at `lsn` that makes no event (a heartbeat, another
   * application's message): the position still moves past it, so that what the slot is acked
   * up to is never beyond what the store holds.
   */
  passLoose(lsn: bigint): void {
    const p = this.#pos;
    if (lsn >= p.ack && (p.message === null || lsn > p.message)) p.message = lsn;
    this.#moved = true;
  }

  /**
   * Moves the end position to `lsn`, which the server said it has sent everything before (a
   * keepalive while no transaction was open). Only between transactions.
   */
  advance(lsn: bigint): void {
    const p = this.#pos;
    if (lsn <= p.ack) return;
    p.ack = lsn;
    p.partial = null;
    if (p.message !== null && p.message < p.ack) p.message = null;
    this.#moved = true;
  }

  /** Records that a transaction ending at `endLsn` is wholly released. */
  commit(endLsn: bigint): void {
    const p = this.#pos;
    if (endLsn > p.ack) p.ack = endLsn;
    p.partial = null;
    if (p.message !== null && p.message < p.ack) p.message = null;
    this.#moved = true;
  }

  /** The released events with their position; undefined when nothing moved since last time. */
  take(): ChangeBatch | undefined {
    if (this.#out.length === 0 && !this.#moved) return undefined;
    const events = this.#out;
    this.#out = [];
    this.#moved = false;
    return { events, position: formatWalPosition(this.#pos), ackLsn: this.#pos.ack };
  }
}
