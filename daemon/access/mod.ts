/**
 * Who may use the appliance: UI users with roles, their sessions, login throttling, API tokens
 * and the record of verification runs, in one `access.sqlite` per data directory. Not derived
 * data — deleting it loses the users — so it is kept apart from the rebuildable index.
 *
 * @example
 * const access = AccessStore.open(dataDir);
 * const r = await access.login("ada", password, "10.0.0.7");
 * if (r.ok) setCookie(c, "vigil_session", r.session.id);
 */

import type { DatabaseSync } from "node:sqlite";
import { openAccessDb } from "./db.ts";
import { dummyHash, verifyPassword } from "./password.ts";
import {
  DEFAULT_SESSION_POLICY,
  type NewSession,
  type SessionPolicy,
  Sessions,
} from "./sessions.ts";
import {
  DEFAULT_THROTTLE_POLICY,
  type Lockout,
  Throttle,
  type ThrottlePolicy,
} from "./throttle.ts";
import { Tokens } from "./tokens.ts";
import { type User, Users } from "./users.ts";
import { VerifyRuns } from "./verify_runs.ts";

export { ACCESS_FILE } from "./db.ts";
export { MIN_PASSWORD_LENGTH } from "./password.ts";
export { randomSecret } from "./secret.ts";
export type { NewSession, Session, SessionPolicy } from "./sessions.ts";
export type { Lockout, ThrottlePolicy } from "./throttle.ts";
export { type ApiToken, TOKEN_PREFIX, TOKEN_SCOPES, type TokenScope } from "./tokens.ts";
export { checkRole, checkUserName, type Role, ROLES, type User } from "./users.ts";
export type { VerifyRun } from "./verify_runs.ts";

/** Options of {@link AccessStore.open}. */
export interface AccessOptions {
  /** Wall clock in ms; tests move it. */
  now?: () => number;
  session?: Partial<SessionPolicy>;
  throttle?: Partial<ThrottlePolicy>;
}

/** The outcome of a login attempt. */
export type LoginResult =
  | { readonly ok: true; readonly user: User; readonly session: NewSession }
  | { readonly ok: false; readonly reason: "invalid" }
  | { readonly ok: false; readonly reason: "locked"; readonly lockout: Lockout };

/** The access database of one data directory. */
export class AccessStore {
  readonly users: Users;
  readonly sessions: Sessions;
  readonly tokens: Tokens;
  readonly throttle: Throttle;
  readonly verifyRuns: VerifyRuns;
  #db: DatabaseSync;

  private constructor(db: DatabaseSync, opts: AccessOptions) {
    const now = opts.now ?? Date.now;
    this.#db = db;
    this.users = new Users(db, now);
    this.sessions = new Sessions(db, this.users, now, {
      ...DEFAULT_SESSION_POLICY,
      ...opts.session,
    });
    this.tokens = new Tokens(db, now);
    this.throttle = new Throttle(db, now, { ...DEFAULT_THROTTLE_POLICY, ...opts.throttle });
    this.verifyRuns = new VerifyRuns(db);
  }

  /** Opens (creating 0600) `access.sqlite` in `dataDir`. */
  static open(dataDir: string, opts: AccessOptions = {}): AccessStore {
    return new AccessStore(openAccessDb(dataDir), opts);
  }

  /**
   * Checks a name and password from `clientAddr`. A locked user or address is refused before
   * the password is looked at; a wrong password, an unknown or a disabled user all count as a
   * failure and look the same to the caller.
   */
  async login(name: string, password: string, clientAddr: string): Promise<LoginResult> {
    const locked = this.throttle.locked(name, clientAddr);
    if (locked) return { ok: false, reason: "locked", lockout: locked };
    const found = this.users.hashOf(name);
    // Unknown users cost a hash too, so response time does not reveal which names exist.
    const good = await verifyPassword(password, found?.hash ?? await dummyHash());
    if (!found || !good) {
      const lockout = this.throttle.fail(name, clientAddr);
      return lockout ? { ok: false, reason: "locked", lockout } : { ok: false, reason: "invalid" };
    }
    this.throttle.succeed(name);
    this.users.touchLogin(found.user.id);
    return { ok: true, user: found.user, session: this.sessions.create(found.user, clientAddr) };
  }

  /** Closes the database; safe to call twice. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
