/**
 * `vigil pg-install --pgaudit CLASSES [--role R] [--database D]`: sets pgAudit's `pgaudit.log`
 * for one scope, as pgAudit documents it — globally (`ALTER SYSTEM SET` and a configuration
 * reload), for a database (`ALTER DATABASE … SET`), for a role (`ALTER ROLE … SET`) or for a
 * role in one database (`ALTER ROLE … IN DATABASE … SET`) — and only when the classes in force
 * there differ from those asked for, so that a re-run changes nothing. The value is checked
 * first: only pgAudit's class names (`read`, `write`, `function`, `role`, `ddl`, `misc`,
 * `misc_set`, `all`, `none`, each optionally `-` to subtract) pass. A database or role setting
 * applies to sessions that start after it; a global one after the reload.
 */

import type { PgConnection } from "../pgwire/connection.ts";

/** pgAudit's classes, in the order `all` expands to. */
export const PGAUDIT_CLASSES: readonly string[] = Object.freeze([
  "read",
  "write",
  "function",
  "role",
  "ddl",
  "misc",
  "misc_set",
]);

/** The scope Vigil recommends: everything but reads of functions and plain MISC commands. */
export const RECOMMENDED_PGAUDIT = "read,write,ddl,role,misc_set";

/** The classes a `pgaudit.log` value turns on (`all`, `-class`, `none` understood). */
export function pgauditClasses(value: string | null | undefined): Set<string> {
  const on = new Set<string>();
  if (value === null || value === undefined) return on;
  for (const raw of value.toLowerCase().split(",")) {
    const item = raw.trim();
    const minus = item.startsWith("-");
    const name = minus ? item.slice(1).trim() : item;
    const names = name === "all" ? PGAUDIT_CLASSES : name === "none" || name === "" ? [] : [name];
    for (const n of names) minus ? on.delete(n) : on.add(n);
  }
  return on;
}

/** A `pgaudit.log` value checked and written canonically (`read,write`); `TypeError` if bad. */
export function normalizePgauditLog(value: string): string {
  const text = value.trim() === "recommended" ? RECOMMENDED_PGAUDIT : value;
  const items = text.split(",").map((x) => x.trim().toLowerCase()).filter((x) => x !== "");
  if (items.length === 0) throw new TypeError("--pgaudit needs at least one class (or none)");
  for (const item of items) {
    const name = item.startsWith("-") ? item.slice(1).trim() : item;
    if (![...PGAUDIT_CLASSES, "all", "none"].includes(name)) {
      throw new TypeError(
        `--pgaudit: unknown pgAudit class ${JSON.stringify(name)}; the classes are ` +
          `${PGAUDIT_CLASSES.join(", ")}, all and none (each may be -class)`,
      );
    }
  }
  return items.join(",");
}

/** Where a scope applies. */
export interface PgauditScope {
  role?: string;
  database?: string;
}

/** What {@link applyPgauditScope} found and did. */
export interface ScopeReport {
  /** "globally", "for database shop", "for role alice", "for role alice in database shop". */
  scope: string;
  /** The value set in that scope before (null: none set there). */
  before: string | null;
  after: string;
  changed: boolean;
}

/** Sets `pgaudit.log` for the scope when the classes there differ; see the module doc. */
export async function applyPgauditScope(
  conn: PgConnection,
  value: string,
  scope: PgauditScope,
): Promise<ScopeReport> {
  const after = normalizePgauditLog(value);
  const where = scopeWords(scope);
  const before = await currentValue(conn, scope);
  const same = before !== null && equalSets(pgauditClasses(before), pgauditClasses(after));
  if (same) return { scope: where, before, after, changed: false };
  const literal = quoteLiteral(after);
  if (scope.role === undefined && scope.database === undefined) {
    await conn.query(`ALTER SYSTEM SET pgaudit.log = ${literal}`);
    await conn.query("SELECT pg_catalog.pg_reload_conf()");
  } else if (scope.role === undefined) {
    await conn.query(`ALTER DATABASE ${quoteIdent(scope.database!)} SET pgaudit.log = ${literal}`);
  } else {
    const inDb = scope.database === undefined ? "" : ` IN DATABASE ${quoteIdent(scope.database)}`;
    await conn.query(`ALTER ROLE ${quoteIdent(scope.role)}${inDb} SET pgaudit.log = ${literal}`);
  }
  return { scope: where, before, after, changed: true };
}

function scopeWords(scope: PgauditScope): string {
  if (scope.role !== undefined && scope.database !== undefined) {
    return `for role ${scope.role} in database ${scope.database}`;
  }
  if (scope.role !== undefined) return `for role ${scope.role}`;
  if (scope.database !== undefined) return `for database ${scope.database}`;
  return "globally";
}

/**
 * The value set in the scope itself: for the global scope the one the configuration files
 * give (`ALTER SYSTEM` writes postgresql.auto.conf, read last), else the
 * `pg_db_role_setting` entry. Throws naming the role or database when it does not exist.
 */
async function currentValue(conn: PgConnection, scope: PgauditScope): Promise<string | null> {
  if (scope.role === undefined && scope.database === undefined) {
    const { rows } = await conn.query(
      `SELECT setting FROM pg_catalog.pg_file_settings
        WHERE name = 'pgaudit.log' AND error IS NULL ORDER BY seqno DESC LIMIT 1`,
    );
    return rows[0]?.[0] ?? null;
  }
  const exists = async (sql: string, what: string) => {
    const { rows } = await conn.query(sql);
    if (rows[0]?.[0] !== "t") throw new TypeError(`--pgaudit: there is no ${what}`);
  };
  if (scope.role !== undefined) {
    await exists(
      `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ${
        quoteLiteral(scope.role)
      })`,
      `role ${JSON.stringify(scope.role)}`,
    );
  }
  if (scope.database !== undefined) {
    await exists(
      `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database
                       WHERE datname = ${quoteLiteral(scope.database)})`,
      `database ${JSON.stringify(scope.database)}`,
    );
  }
  const role = scope.role === undefined
    ? "0"
    : `(SELECT oid FROM pg_catalog.pg_roles WHERE rolname = ${quoteLiteral(scope.role)})`;
  const db = scope.database === undefined
    ? "0"
    : `(SELECT oid FROM pg_catalog.pg_database WHERE datname = ${quoteLiteral(scope.database)})`;
  const { rows } = await conn.query(
    `SELECT substr(c, length('pgaudit.log=') + 1)
       FROM pg_catalog.pg_db_role_setting, unnest(setconfig) AS c
      WHERE setrole = ${role} AND setdatabase = ${db} AND c LIKE 'pgaudit.log=%'`,
  );
  return rows[0]?.[0] ?? null;
}

function equalSets(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
