/**
 * What the server sends, on its way to the client, and the events it completes. Observe mode:
 * the bytes go at once (the session sends them before the tracker reads them) and the events
 * to the backlog. Enforce mode: a chunk that holds no statement's result goes at once; one that
 * does, only once the statement's event is durable (recorded: `recorder.ts`), whole (a BindComplete before the result
 * waits with it: written alone it would cost the client a wake-up and a read for nothing);
 * while the server still owes the ReadyForQuery that tells the transaction state after it, what
 * follows is held too — unless the server waits for the client's COPY data, when what waits is
 * stored with the state its outcome implies, so that the CopyInResponse reaches the client. At most {@link HOLD_BYTES} are held: past that, waiting events are stored
 * with the state their outcomes imply and a long result's rows flow on — but a completion never
 * reaches the client before its event is durable.
 */

import type { NewEvent } from "../../daemon/event/model.ts";
import type { SessionTracker } from "./tracker.ts";

/** Enforce mode: server bytes held at most, then released once what they complete is stored. */
export const HOLD_BYTES = 1024 * 1024;
/** Events waiting for a transaction state at most, then stored without. */
const MAX_WAITING = 1000;

/** The server-to-client direction of one session. */
export class ResultGate {
  readonly #write: (bytes: Uint8Array) => Promise<void>;
  readonly #record: (events: NewEvent[]) => Promise<void>;
  readonly #enforce: boolean;
  #held: Uint8Array[] = [];
  #heldBytes = 0;

  constructor(opts: {
    write: (bytes: Uint8Array) => Promise<void>;
    record: (events: NewEvent[]) => Promise<void>;
    enforce: boolean;
  }) {
    this.#write = opts.write;
    this.#record = opts.record;
    this.#enforce = opts.enforce;
  }

  /** Observe mode, the bytes already sent: records what they completed. */
  record(tracker: SessionTracker): void {
    const force = !tracker.owesReady || tracker.waitsOnClient || tracker.waiting > MAX_WAITING;
    const events = tracker.take(force);
    if (events.length > 0) void this.#record(events).catch(() => {});
  }

  /**
   * Passes `chunk` from `offset` on, after the tracker has seen it. Rejects (having written
   * nothing held) when enforce mode could not store the events.
   */
  async pass(chunk: Uint8Array, offset: number, tracker: SessionTracker): Promise<void> {
    const part = chunk.subarray(offset);
    // A CopyInResponse must reach the client, which sends nothing until it has it: what waits
    // for the transaction state is stored with the state its outcome implies.
    const force = !tracker.owesReady || tracker.waitsOnClient || tracker.waiting > MAX_WAITING ||
      (this.#enforce && this.#heldBytes + part.length > HOLD_BYTES);
    const events = tracker.take(force);
    if (!this.#enforce) {
      await this.#write(part);
      if (events.length > 0) await this.#record(events);
      return;
    }
    // What comes before a result in its chunk (ParseComplete, BindComplete: nothing a client
    // acts on before the result) is held with it: one write to the client, not two.
    if (this.#held.length > 0 || tracker.holdFrom >= 0) this.#hold(part);
    else await this.#write(part);
    if (events.length > 0) {
      try {
        await this.#record(events);
      } catch (error) {
        this.#held = [];
        this.#heldBytes = 0;
        throw error;
      }
    }
    if (tracker.waiting === 0 && (!tracker.resultOpen || force) && this.#held.length > 0) {
      const held = this.#held;
      this.#held = [];
      this.#heldBytes = 0;
      for (const bytes of held) await this.#write(bytes);
    }
  }

  #hold(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#held.push(bytes);
    this.#heldBytes += bytes.length;
  }
}
