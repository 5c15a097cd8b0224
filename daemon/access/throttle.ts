/**
 * Login throttling. Failed logins are counted per user name and per client address within a
 * window; past the limit the key is locked out for a while, and while locked even the right
 * password is refused — otherwise the lock-out would still let a guesser learn when it guessed
 * right. Per-address limits are looser than per-user ones because many people may share one
 * address (a proxy, a NAT).
 */

import type { DatabaseSync } from "node:sqlite";

/** Limits of the throttle. */
export interface ThrottlePolicy {
  /** Failures of one user name within `windowMs` that lock it. */
  readonly userFailures: number;
  /** Failures from one client address within `windowMs` that lock it. */
  readonly addrFailures: number;
  readonly windowMs: number;
  /** How long a lock-out lasts. */
  readonly lockMs: number;
}

export const DEFAULT_THROTTLE_POLICY: ThrottlePolicy = {
  userFailures: 5,
  addrFailures: 20,
  windowMs: 15 * 60_000,
  lockMs: 15 * 60_000,
};

/** A refused attempt: what is locked and until when. */
export interface Lockout {
  readonly scope: "user" | "address";
  readonly until: number;
}

/** The throttle table. */
export class Throttle {
  #db: DatabaseSync;
  #now: () => number;
  #policy: ThrottlePolicy;

  constructor(db: DatabaseSync, now: () => number, policy: ThrottlePolicy) {
    this.#db = db;
    this.#now = now;
    this.#policy = policy;
  }

  /** The lock-out in force for this user or address, or null. */
  locked(userName: string, clientAddr: string): Lockout | null {
    const now = this.#now();
    for (const [scope, key] of this.#keys(userName, clientAddr)) {
      const r = this.#db.prepare("SELECT locked_until FROM throttle WHERE key = ?").get(key);
      const until = Number(r?.locked_until ?? 0);
      if (until > now) return { scope, until };
    }
    return null;
  }

  /** Counts a failure; returns the lock-out it caused, if any. */
  fail(userName: string, clientAddr: string): Lockout | null {
    const now = this.#now();
    const p = this.#policy;
    let result: Lockout | null = null;
    for (const [scope, key] of this.#keys(userName, clientAddr)) {
      const r = this.#db.prepare("SELECT failures, window_start FROM throttle WHERE key = ?")
        .get(key);
      const fresh = !r || Number(r.window_start) + p.windowMs <= now;
      const failures = fresh ? 1 : Number(r.failures) + 1;
      const limit = scope === "user" ? p.userFailures : p.addrFailures;
      const until = failures >= limit ? now + p.lockMs : 0;
      this.#db.prepare(
        "INSERT INTO throttle (key, failures, window_start, locked_until) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, " +
          "window_start = excluded.window_start, locked_until = excluded.locked_until",
      ).run(key, until ? 0 : failures, fresh ? now : Number(r.window_start), until);
      if (until && !result) result = { scope, until };
    }
    return result;
  }

  /** A good login clears the user's count (not the address's: one success does not excuse
   * a spray of guesses at other names). */
  succeed(userName: string): void {
    this.#db.prepare("DELETE FROM throttle WHERE key = ?").run(`user:${userName}`);
  }

  /** Lifts a user's lock-out (an admin's action, e.g. with a password reset). */
  clearUser(userName: string): void {
    this.succeed(userName);
  }

  #keys(userName: string, clientAddr: string): [Lockout["scope"], string][] {
    return [["user", `user:${userName}`], ["address", `addr:${clientAddr}`]];
  }
}
