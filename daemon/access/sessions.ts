/**
 * Login sessions of the web UI. The cookie carries a random 256-bit id; the database keeps its
 * hash, the user, a CSRF token for the session's forms, and two clocks: an absolute expiry and
 * an idle timeout. A session whose user is disabled, or whose clocks ran out, is gone.
 */

import type { DatabaseSync } from "node:sqlite";
import { randomSecret, secretHash } from "./secret.ts";
import type { User, Users } from "./users.ts";

/** How long sessions live. */
export interface SessionPolicy {
  /** From login, ms. */
  readonly maxAgeMs: number;
  /** Since the last request, ms. */
  readonly idleMs: number;
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = {
  maxAgeMs: 12 * 3600_000,
  idleMs: 30 * 60_000,
};

/** A live session. */
export interface Session {
  readonly user: User;
  /** The token every form of this session must echo. */
  readonly csrf: string;
  readonly expiresAt: number;
}

/** A session just created: `id` goes into the cookie and is not stored. */
export interface NewSession extends Session {
  readonly id: string;
}

/** The sessions table. */
export class Sessions {
  #db: DatabaseSync;
  #users: Users;
  #now: () => number;
  #policy: SessionPolicy;

  constructor(db: DatabaseSync, users: Users, now: () => number, policy: SessionPolicy) {
    this.#db = db;
    this.#users = users;
    this.#now = now;
    this.#policy = policy;
  }

  /** Starts a session for `user`. */
  create(user: User, clientAddr: string): NewSession {
    const id = randomSecret();
    const csrf = randomSecret();
    const now = this.#now();
    const expiresAt = now + this.#policy.maxAgeMs;
    // Expired rows of anyone are dropped here, so the table does not grow without bound.
    this.#db.prepare("DELETE FROM sessions WHERE expires_at <= ? OR last_seen <= ?")
      .run(now, now - this.#policy.idleMs);
    this.#db.prepare(
      "INSERT INTO sessions (id_hash, user_id, csrf, client_addr, created_at, last_seen, " +
        "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ).run(secretHash(id), user.id, csrf, clientAddr, now, now, expiresAt);
    return { id, user, csrf, expiresAt };
  }

  /** The live session of a cookie value, marking it used; null when unknown or expired. */
  get(id: string): Session | null {
    if (id === "") return null;
    const key = secretHash(id);
    const r = this.#db.prepare(
      "SELECT user_id, csrf, last_seen, expires_at FROM sessions WHERE id_hash = ?",
    ).get(key);
    if (!r) return null;
    const now = this.#now();
    if (Number(r.expires_at) <= now || Number(r.last_seen) + this.#policy.idleMs <= now) {
      this.#db.prepare("DELETE FROM sessions WHERE id_hash = ?").run(key);
      return null;
    }
    const user = this.#users.byId(Number(r.user_id));
    if (!user || user.disabled) return null;
    this.#db.prepare("UPDATE sessions SET last_seen = ? WHERE id_hash = ?").run(now, key);
    return { user, csrf: String(r.csrf), expiresAt: Number(r.expires_at) };
  }

  /** Ends one session (logout). */
  end(id: string): void {
    this.#db.prepare("DELETE FROM sessions WHERE id_hash = ?").run(secretHash(id));
  }

  /** Live sessions per user id, for the Administration page. */
  countByUser(): Map<number, number> {
    const now = this.#now();
    const rows = this.#db.prepare(
      "SELECT user_id, count(*) AS n FROM sessions WHERE expires_at > ? AND last_seen > ? " +
        "GROUP BY user_id",
    ).all(now, now - this.#policy.idleMs);
    return new Map(rows.map((r) => [Number(r.user_id), Number(r.n)]));
  }
}
