/**
 * API bearer tokens for applications. An admin creates one with a name and scopes; the token
 * text is shown once and only its SHA-256 is kept. The token's name is also the `source` of
 * the events posted with it, so one application cannot write in another's name. Use is
 * recorded (last-used time); revoked tokens stay listed, for the record.
 */

import type { DatabaseSync } from "node:sqlite";
import { randomSecret, secretHash } from "./secret.ts";

/** What a token may do: `ingest` posts events, `read` searches them. */
export const TOKEN_SCOPES = ["ingest", "read"] as const;
export type TokenScope = typeof TOKEN_SCOPES[number];

/** Prefix of every token, so that secret scanners and people recognise one. */
export const TOKEN_PREFIX = "vigil_";

/** A token as listed; never carries the secret. */
export interface ApiToken {
  readonly id: number;
  readonly name: string;
  /** The first characters of the token, to tell tokens apart. */
  readonly prefix: string;
  readonly scopes: readonly TokenScope[];
  readonly createdBy: string;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
  readonly revokedBy: string | null;
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Sources of Vigil's own events: no application may post under these names. */
const RESERVED = new Set(["vigil-ui", "vigil"]);

type Row = Record<string, unknown>;

function toToken(r: Row): ApiToken {
  return {
    id: Number(r.id),
    name: String(r.name),
    prefix: String(r.prefix),
    scopes: String(r.scopes).split(",").filter((s) => s !== "") as TokenScope[],
    createdBy: String(r.created_by),
    createdAt: Number(r.created_at),
    lastUsedAt: r.last_used_at == null ? null : Number(r.last_used_at),
    revokedAt: r.revoked_at == null ? null : Number(r.revoked_at),
    revokedBy: r.revoked_by == null ? null : String(r.revoked_by),
  };
}

const COLUMNS =
  "id, name, prefix, scopes, created_by, created_at, last_used_at, revoked_at, revoked_by";

/** The tokens table. */
export class Tokens {
  #db: DatabaseSync;
  #now: () => number;

  constructor(db: DatabaseSync, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  /**
   * Creates a token; returns its one-time text. Throws TypeError for a bad or taken name or
   * unknown scopes.
   */
  create(
    name: string,
    scopes: readonly string[],
    createdBy: string,
  ): { token: string; info: ApiToken } {
    if (!NAME_RE.test(name) || RESERVED.has(name)) {
      throw new TypeError(
        `Cannot create token ${JSON.stringify(name)}: a name is 1–64 lower-case letters, ` +
          `digits, ".", "_" or "-" (it becomes the events' source), and not ${
            [...RESERVED].join(" or ")
          }`,
      );
    }
    const bad = scopes.filter((s) => !(TOKEN_SCOPES as readonly string[]).includes(s));
    if (bad.length > 0 || scopes.length === 0) {
      throw new TypeError(
        `Cannot create token ${name}: scopes must be some of ${TOKEN_SCOPES.join(", ")}` +
          (bad.length ? ` (got ${bad.join(", ")})` : ""),
      );
    }
    const token = TOKEN_PREFIX + randomSecret();
    try {
      this.#db.prepare(
        "INSERT INTO tokens (name, hash, prefix, scopes, created_by, created_at) " +
          "VALUES (?, ?, ?, ?, ?, ?)",
      ).run(
        name,
        secretHash(token),
        token.slice(0, TOKEN_PREFIX.length + 6),
        [...new Set(scopes)].sort().join(","),
        createdBy,
        this.#now(),
      );
    } catch (e) {
      if (/UNIQUE/.test((e as Error).message)) {
        throw new TypeError(`Cannot create token ${name}: the name is taken`);
      }
      throw e;
    }
    return { token, info: this.get(name)! };
  }

  /** One token by name, or null. */
  get(name: string): ApiToken | null {
    const r = this.#db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE name = ?`).get(name);
    return r ? toToken(r) : null;
  }

  /** Every token, newest first. */
  list(): ApiToken[] {
    return this.#db.prepare(`SELECT ${COLUMNS} FROM tokens ORDER BY created_at DESC, id DESC`)
      .all().map(toToken);
  }

  /** The live token of a bearer text, recording its use; null when unknown or revoked. */
  authenticate(token: string): ApiToken | null {
    if (!token.startsWith(TOKEN_PREFIX)) return null;
    const hash = secretHash(token);
    const r = this.#db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE hash = ?`).get(hash);
    if (!r || r.revoked_at != null) return null;
    this.#db.prepare("UPDATE tokens SET last_used_at = ? WHERE hash = ?").run(this.#now(), hash);
    return toToken(r);
  }

  /** Revokes a token; throws TypeError when there is no live token of that name. */
  revoke(name: string, by: string): void {
    const r = this.#db.prepare(
      "UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE name = ? AND revoked_at IS NULL",
    ).run(this.#now(), by, name);
    if (Number(r.changes) === 0) {
      throw new TypeError(
        `Cannot revoke token ${JSON.stringify(name)}: no live token of that name`,
      );
    }
  }
}
