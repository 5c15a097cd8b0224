/**
 * Local UI users: a name, one role and an scrypt password hash. A disabled user keeps its row
 * (the chain names it in past events) but cannot log in, and its sessions end.
 */

import type { DatabaseSync } from "node:sqlite";
import { hashPassword, passwordWeakness } from "./password.ts";

/** What a user may do: admin (configuration, users, keys), auditor (read, verify, export),
 * operator (health, alerts). */
export const ROLES = ["admin", "auditor", "operator"] as const;
export type Role = typeof ROLES[number];

/** A user as shown; never carries the hash. */
export interface User {
  readonly id: number;
  readonly name: string;
  readonly role: Role;
  readonly disabled: boolean;
  readonly createdAt: number;
  readonly lastLoginAt: number | null;
}

/** A user name: what a person types, and what appears as `role` of the UI's events. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** Throws TypeError unless `name` is an acceptable user name. */
export function checkUserName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new TypeError(
      `Cannot use user name ${JSON.stringify(name)}: use 1–64 letters, digits, ".", "_", "@" ` +
        `or "-", starting with a letter or digit`,
    );
  }
}

/** Throws TypeError unless `role` is one of {@link ROLES}. */
export function checkRole(role: string): asserts role is Role {
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new TypeError(`Cannot use role ${JSON.stringify(role)}: one of ${ROLES.join(", ")}`);
  }
}

/** Throws TypeError naming the weakness of a password that is refused. */
export function checkPassword(password: string, name: string): void {
  const weak = passwordWeakness(password, name);
  if (weak !== null) throw new TypeError(`Cannot set the password of ${name}: ${weak}`);
}

type Row = Record<string, unknown>;

function toUser(r: Row): User {
  return {
    id: Number(r.id),
    name: String(r.name),
    role: r.role as Role,
    disabled: Number(r.disabled) !== 0,
    createdAt: Number(r.created_at),
    lastLoginAt: r.last_login_at == null ? null : Number(r.last_login_at),
  };
}

const COLUMNS = "id, name, role, disabled, created_at, last_login_at";

/** The users table. */
export class Users {
  #db: DatabaseSync;
  #now: () => number;

  constructor(db: DatabaseSync, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  /** Throws TypeError, saying why, unless {@link add} would accept these. */
  checkAdd(name: string, role: string, password: string): void {
    checkUserName(name);
    checkRole(role);
    checkPassword(password, name);
    if (this.get(name) !== null) throw new TypeError(`Cannot add user ${name}: the name is taken`);
  }

  /** Creates a user; throws TypeError for a bad name, role or weak password, or a taken name. */
  async add(name: string, role: string, password: string): Promise<User> {
    checkUserName(name);
    checkRole(role);
    checkPassword(password, name);
    const pw = await hashPassword(password);
    const now = this.#now();
    try {
      this.#db.prepare(
        "INSERT INTO users (name, role, pw, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
      ).run(name, role, pw, now, now);
    } catch (e) {
      if (/UNIQUE/.test((e as Error).message)) {
        throw new TypeError(`Cannot add user ${name}: the name is taken`);
      }
      throw new Error(`Cannot add user ${name}: ${(e as Error).message}`, { cause: e });
    }
    return this.get(name)!;
  }

  /** Every user, by name. */
  list(): User[] {
    return this.#db.prepare(`SELECT ${COLUMNS} FROM users ORDER BY name`).all().map(toUser);
  }

  /** One user by name, or null. */
  get(name: string): User | null {
    const r = this.#db.prepare(`SELECT ${COLUMNS} FROM users WHERE name = ?`).get(name);
    return r ? toUser(r) : null;
  }

  /** One user by id, or null. */
  byId(id: number): User | null {
    const r = this.#db.prepare(`SELECT ${COLUMNS} FROM users WHERE id = ?`).get(id);
    return r ? toUser(r) : null;
  }

  /** The stored hash of an enabled user, or null (unknown or disabled). */
  hashOf(name: string): { user: User; hash: string } | null {
    const r = this.#db.prepare(`SELECT ${COLUMNS}, pw FROM users WHERE name = ?`).get(name);
    if (!r || Number(r.disabled) !== 0) return null;
    return { user: toUser(r), hash: String(r.pw) };
  }

  /**
   * Throws TypeError, saying why, unless the change could be made: the user exists, the role is
   * one of {@link ROLES}, the password strong enough — and the last enabled admin is neither
   * disabled nor given another role, and no admin disables themself (`by`).
   */
  checkChange(
    name: string,
    change: { disable?: boolean; role?: string; password?: string; by?: string },
  ): void {
    const u = this.#require(name);
    if (change.role !== undefined) checkRole(change.role);
    if (change.password !== undefined) checkPassword(change.password, name);
    if (change.disable === true && change.by === name) {
      throw new TypeError(`Cannot disable user ${name}: you cannot disable yourself`);
    }
    const demoted = change.disable === true ||
      (change.role !== undefined && change.role !== "admin");
    if (u.role === "admin" && !u.disabled && demoted && this.enabledAdmins() <= 1) {
      throw new TypeError(
        `Cannot ${change.disable === true ? "disable" : "change the role of"} user ${name}: ` +
          "the last active admin must stay one",
      );
    }
  }

  /** Disables or enables a user; disabling ends its sessions. */
  setDisabled(name: string, disabled: boolean): void {
    const u = this.#require(name);
    this.#db.prepare("UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?")
      .run(disabled ? 1 : 0, this.#now(), u.id);
    if (disabled) this.#db.prepare("DELETE FROM sessions WHERE user_id = ?").run(u.id);
  }

  /** Sets a new password (checked for weakness) and ends the user's sessions. */
  async setPassword(name: string, password: string): Promise<void> {
    const u = this.#require(name);
    checkPassword(password, name);
    const pw = await hashPassword(password);
    this.#db.prepare("UPDATE users SET pw = ?, updated_at = ? WHERE id = ?")
      .run(pw, this.#now(), u.id);
    this.#db.prepare("DELETE FROM sessions WHERE user_id = ?").run(u.id);
  }

  /** Changes a user's role. */
  setRole(name: string, role: string): void {
    checkRole(role);
    const u = this.#require(name);
    this.#db.prepare("UPDATE users SET role = ?, updated_at = ? WHERE id = ?")
      .run(role, this.#now(), u.id);
  }

  /** Records a successful login. */
  touchLogin(id: number): void {
    this.#db.prepare("UPDATE users SET last_login_at = ? WHERE id = ?").run(this.#now(), id);
  }

  /** How many enabled admins there are: the last one may not be disabled or demoted. */
  enabledAdmins(): number {
    const r = this.#db.prepare(
      "SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled = 0",
    ).get();
    return Number(r?.n ?? 0);
  }

  #require(name: string): User {
    const u = this.get(name);
    if (!u) throw new TypeError(`Cannot change user ${JSON.stringify(name)}: no such user`);
    return u;
  }
}
