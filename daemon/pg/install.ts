/**
 * Installs the PostgreSQL side of WAL collection (`install_sql.ts`) in one database, over a
 * plain SQL session of the shared wire library (simple-query protocol). It checks first what would make the install fail or
 * harm the database — a role that is not a superuser (only superusers create event triggers),
 * a `wal_level` below `logical` (every DDL would then fail in the trigger), a schema `vigil`
 * that someone else made, a newer install — and says so by name; then runs every statement in
 * one transaction, so a database has either the whole install or none of it. Only what is missing
 * or wrong is changed: a re-run on an intact install runs no DDL.
 *
 * @example
 * ```ts
 * const report = await installPgSide("postgres://postgres@db1:5432/billing");
 * console.log(report.action, report.version); // "installed" 1
 * ```
 */

import { connect, type PgConnection } from "../pgwire/connection.ts";
import { parseDsn } from "../pgwire/dsn.ts";
import { expectedFingerprints } from "./fingerprint.ts";
import {
  DDL_TRIGGERS,
  INSTALL_VERSION,
  INSTALLED_OBJECTS,
  type InstalledState,
  installedVersion,
  installPlan,
  STATE_SQL,
  VIGIL_SCHEMA,
} from "./install_sql.ts";

/** What an install did, for the command's report. */
export interface InstallReport {
  /** `host:port` (or socket) of the server, without credentials. */
  server: string;
  database: string;
  /** The role that ran the install. */
  role: string;
  /** `installed` (first time), `updated` (from an older version), `reapplied` (same version). */
  action: "installed" | "updated" | "reapplied";
  /** The version found before, if any. */
  previousVersion: number | undefined;
  version: number;
  /** What the install holds. */
  objects: readonly string[];
  /** The statements this run sent that changed something (none on an intact install). */
  changes: string[];
  /** Tables whose statement trigger this run created or set ENABLE ALWAYS again. */
  tables: TableAction[];
}

/** A table whose statement trigger an install created (or replaced) or re-enabled. */
export interface TableAction {
  /** The table, as `regclass` prints it (schema-qualified, quoted where needed). */
  tbl: string;
  action: "created" | "enabled";
}

/** A refusal before anything was changed: the database is not fit for the install. */
export class InstallRefusedError extends Error {
  override name = "InstallRefusedError";
}

interface Facts {
  database: string;
  role: string;
  superuser: boolean;
  wal_level: string;
  schema_exists: boolean;
  schema_comment: string | null;
}

const FACTS_SQL = `SELECT json_build_object(
  'database', current_database(),
  'role', current_user,
  'superuser', coalesce((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user),
                        false),
  'wal_level', current_setting('wal_level'),
  'schema_exists', EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = '${VIGIL_SCHEMA}'),
  'schema_comment', (SELECT pg_catalog.obj_description(oid, 'pg_namespace')
                       FROM pg_catalog.pg_namespace WHERE nspname = '${VIGIL_SCHEMA}'))`;

/** Opens a plain session for the installer's commands; errors name the server and step. */
export async function openInstallSession(
  dsn: string,
  opts: { connectTimeoutSeconds?: number; applicationName?: string } = {},
): Promise<PgConnection> {
  const config = parseDsn(dsn);
  return await connect({
    ...config,
    connectTimeoutMs: (opts.connectTimeoutSeconds ?? config.connectTimeoutMs / 1000) * 1000,
    applicationName: opts.applicationName ?? "vigil pg-install",
  });
}

/** The first column of the first row of a one-value query, parsed as JSON. */
export async function queryJson<T>(conn: PgConnection, sql: string): Promise<T> {
  const { rows } = await conn.query(sql);
  const cell = rows[0]?.[0];
  if (typeof cell !== "string") throw new Error("the query returned no value");
  return JSON.parse(cell) as T;
}

/**
 * Installs, or brings up to date, Vigil's SQL in the database of `dsn`. Throws
 * {@link InstallRefusedError} (nothing changed) when the database or role is not fit, and an
 * `Error` naming the server and database when the connection or a statement fails.
 */
export async function installPgSide(
  dsn: string,
  opts: { connectTimeoutSeconds?: number } = {},
): Promise<InstallReport> {
  const server = serverOf(dsn);
  let step = "connect and inspect the database";
  let conn: PgConnection | undefined;
  try {
    conn = await openInstallSession(dsn, opts);
    const facts = await queryJson<Facts>(conn, FACTS_SQL);
    const previousVersion = checkFit(facts, server);
    step = "install";
    const changes: string[] = [];
    let tables: TableAction[] = [];
    await conn.query("BEGIN");
    try {
      const state = await queryJson<InstalledState>(conn, STATE_SQL);
      for (const statement of installPlan(state, expectedFingerprints())) {
        const result = await conn.query(statement);
        if (result.columns[0] === "tbl") {
          tables = result.rows.map((r) => ({
            tbl: String(r[0]),
            action: r[1] === "enabled" ? "enabled" : "created",
          }));
        } else {
          changes.push(statement);
        }
      }
      step = "verify the event triggers";
      const { rows } = await conn.query(
        `SELECT count(*) FROM pg_catalog.pg_event_trigger
          WHERE evtname IN (${DDL_TRIGGERS.map((t) => `'${t}'`).join(", ")})
            AND evtenabled = 'A'`,
      );
      if (Number(rows[0]?.[0]) !== DDL_TRIGGERS.length) {
        throw new Error(`not every one of ${DDL_TRIGGERS.join(", ")} is ENABLE ALWAYS`);
      }
      await conn.query("COMMIT");
    } catch (error) {
      await conn.query("ROLLBACK").catch(() => {}); // The failure above is what matters.
      throw error;
    }
    return {
      server,
      database: facts.database,
      role: facts.role,
      action: previousVersion === undefined
        ? "installed"
        : previousVersion < INSTALL_VERSION
        ? "updated"
        : "reapplied",
      previousVersion,
      version: INSTALL_VERSION,
      objects: INSTALLED_OBJECTS,
      changes,
      tables,
    };
  } catch (error) {
    if (error instanceof InstallRefusedError) throw error;
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`Cannot install Vigil's SQL on ${server} (${step}): ${why}`, { cause: error });
  } finally {
    await conn?.close();
  }
}

/** The version already installed (undefined for none), or a refusal naming what is missing. */
function checkFit(facts: Facts, server: string): number | undefined {
  const where = `database "${facts.database}" on ${server}`;
  if (!facts.superuser) {
    throw new InstallRefusedError(
      `Cannot install Vigil's SQL in ${where}: role "${facts.role}" is not a superuser, and ` +
        `only a superuser can create event triggers; run pg-install as a superuser (the WAL ` +
        `source itself needs only the REPLICATION attribute)`,
    );
  }
  if (facts.wal_level !== "logical") {
    throw new InstallRefusedError(
      `Cannot install Vigil's SQL in ${where}: wal_level is "${facts.wal_level}", not ` +
        `"logical"; the event triggers write to the WAL with pg_logical_emit_message(), which ` +
        `would make every DDL fail (set wal_level = logical and restart PostgreSQL first)`,
    );
  }
  if (!facts.schema_exists) return undefined;
  const version = installedVersion(facts.schema_comment);
  if (version === undefined) {
    throw new InstallRefusedError(
      `Cannot install Vigil's SQL in ${where}: a schema "${VIGIL_SCHEMA}" exists that ` +
        `vigil pg-install did not make (its comment is not Vigil's marker); rename or drop it`,
    );
  }
  if (version > INSTALL_VERSION) {
    throw new InstallRefusedError(
      `Cannot install Vigil's SQL in ${where}: version ${version} is installed, newer than ` +
        `this vigil's ${INSTALL_VERSION}; use the newer vigil`,
    );
  }
  return version;
}

/** `host:port` of a DSN, for messages: never the user or password. */
function serverOf(dsn: string): string {
  try {
    const url = new URL(dsn);
    const host = url.hostname || url.searchParams.get("host") || "localhost";
    return `${host}:${url.port || "5432"}`;
  } catch {
    return "the server";
  }
}
