/**
 * The holds on detection's catch-up (`live.ts`): work that reads much of the log itself (a
 * verification, a bundle download, an export run) asks the catch-up to wait between two chunks
 * until it is over, so that their memory does not add up.
 *
 * Promises: `waitOut` returns once every hold made — before or during the wait — has settled
 * (fulfilled or rejected), or once `release()` was called; `waiting` names what it waits for
 * meanwhile, null otherwise. A hold is over when its promise settles, waited on or not.
 */

import { log } from "../log.ts";

/** The holds of one catch-up, and the wait on them. */
export class CatchUpHolds {
  /** Holds not yet over, each with why. */
  readonly #holds = new Map<Promise<unknown>, string>();
  #waiting: string | null = null;
  /** Resolved by `release()`: a wait in progress ends, and none begins. */
  readonly #released = Promise.withResolvers<void>();
  #isReleased = false;

  /** What a wait in progress waits for, else null. */
  get waiting(): string | null {
    return this.#waiting;
  }

  /** True while some hold is not over. */
  get held(): boolean {
    return this.#holds.size > 0;
  }

  /** Holds the catch-up until `until` settles. */
  add(until: Promise<unknown>, why: string): void {
    this.#holds.set(until, why);
    // Registered before any wait on `until`: a wait that ends finds the hold gone.
    const over = (): void => void this.#holds.delete(until);
    until.then(over, over);
  }

  /** Ends a wait in progress and any later one (the stop). */
  release(): void {
    this.#isReleased = true;
    this.#released.resolve();
  }

  /** Waits until no hold is left or `release()` is called; `at` is logged with what it waits for. */
  async waitOut(at: Record<string, number>): Promise<void> {
    const t0 = performance.now();
    while (this.#holds.size > 0 && !this.#isReleased) {
      const why = [...new Set(this.#holds.values())].join("; ");
      if (why !== this.#waiting) log("info", "detection's catch-up waits", { for: why, ...at });
      this.#waiting = why;
      await Promise.race([Promise.allSettled(this.#holds.keys()), this.#released.promise]);
    }
    this.#waiting = null;
    const seconds = Math.round(performance.now() - t0) / 1000;
    if (!this.#isReleased) log("info", "detection's catch-up goes on", { seq: at.seq, seconds });
  }
}
