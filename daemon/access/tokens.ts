/**
 * API bearer tokens for applications. An admin creates one with a name and scopes; the token
 * text is shown once and only its SHA-256 is kept. The token's name is also the `source` of
 * the events posted with it, so one application cannot write in another's name — nor in Vigil's
 * (no name starts with `vigil`) or a configured source's (the caller names those at creation).
 * Use is recorded (last-used time, best effort); revoked tokens stay listed, for the record.
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
/**
 * Sources of Vigil's own events (`vigil`, `vigil-ui`, `vigil-detect`, and whatever it names
 * next): no application may post under a name that starts so.
 */
const RESERVED = /^vigil/;

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
   * Throws TypeError, saying why, unless a token of this name and scopes could be created:
   * the name well-formed, not `vigil…`, not a configured source's (`sources`, compared ignoring
   * case) and not taken; the scopes known.
   */
  checkCreate(name: string, scopes: readonly string[], sources: Iterable<string> = []): void {
    if (!NAME_RE.test(name) || RESERVED.test(name)) {
      throw new TypeError(
        `Cannot create token ${JSON.stringify(name)}: a name is 1–64 lower-case letters, ` +
          `digits, ".", "_" or "-" (it becomes the events' source), and does not start with ` +
          `"vigil" (Vigil's own sources)`,
      );
    }
    for (const source of sources) {
      if (source.toLowerCase() === name) {
        throw new TypeError(
          `Cannot create token ${name}: a configured source is named ${
            JSON.stringify(source)
          }, and the token's events would pass for that source's`,
        );
      }
    }
    const bad = scopes.filter((s) => !(TOKEN_SCOPES as readonly string[]).includes(s));
    if (bad.length > 0 || scopes.length === 0) {
      throw new TypeError(
        `Cannot create token ${name}: scopes must be some of ${TOKEN_SCOPES.join(", ")}` +
          (bad.length ? ` (got ${bad.join(", ")})` : ""),
      );
    }
    if (this.get(name) !== null) {
      throw new TypeError(`Cannot create token ${name}: the name is taken`);
    }
  }

  /**
   * Creates a token; returns its one-time text. Throws TypeError as {@link checkCreate} does.
   */
  create(
    name: string,
    scopes: readonly string[],
    createdBy: string,
    opts: { sources?: Iterable<string> } = {},
  ): { token: string; info: ApiToken } {
    this.checkCreate(name, scopes, opts.sources);
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

  /**
   * The live token of a bearer text, recording its use; null when unknown or revoked. The use
   * is recorded when it can be: a full disk must not turn into a failed request here, since
   * the store answers for what the request then does (503 when it cannot take events).
   */
  authenticate(token: string): ApiToken | null {
    if (!token.startsWith(TOKEN_PREFIX)) return null;
    const hash = secretHash(token);
    const r = this.#db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE hash = ?`).get(hash);
    if (!r || r.revoked_at != null) return null;
    try {
      this.#db.prepare("UPDATE tokens SET last_used_at = ? WHERE hash = ?")
        .run(this.#now(), hash);
    } catch { /* the last-used time is a convenience, not a record */ }
    return toToken(r);
  }

  /** Throws TypeError unless there is a live token of that name to revoke. */
  checkRevoke(name: string): void {
    const t = this.get(name);
    if (t === null || t.revokedAt !== null) {
      throw new TypeError(
        `Cannot revoke token ${JSON.stringify(name)}: ${
          t === null ? "no token of that name" : "it is revoked already"
        }`,
      );
    }
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
