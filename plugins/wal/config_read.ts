/**
 * One reading of the audit configuration in force on a watched database, over a plain SQL
 * session: the settings that decide what PostgreSQL and pgAudit log (`pg_settings`, as the
 * Vigil session sees them), the same settings set per database, per role and per role in a
 * database (`pg_db_role_setting`), `session_replication_role` of the Vigil session, the state of
 * `vigil pg-install`'s objects (`config_install.ts`), and the publication's tables. The reading
 * is plain JSON with its keys in a fixed order, so that two readings of the same configuration
 * are the same text and {@link readingHash} tells whether anything changed.
 */

import { createHash } from "node:crypto";
import { INSTALL_CHECK_SQL, installProblems, type InstallReading } from "./config_install.ts";
import { quoteLiteral } from "./replication_command.ts";
import { WATCHED_TABLE_SQL } from "../../daemon/pg/functions_sql.ts";

/** The settings read, globally and per scope. */
export const READ_SETTINGS: readonly string[] = Object.freeze([
  "pgaudit.log",
  "pgaudit.log_catalog",
  "pgaudit.log_client",
  "pgaudit.log_level",
  "pgaudit.log_parameter",
  "pgaudit.log_parameter_max_size",
  "pgaudit.log_relation",
  "pgaudit.log_rows",
  "pgaudit.log_statement",
  "pgaudit.log_statement_once",
  "pgaudit.role",
  "log_connections",
  "log_disconnections",
  "log_destination",
  "logging_collector",
  "log_min_messages",
  "shared_preload_libraries",
  "session_replication_role",
]);

/** Settings of one database, role or role in a database (`ALTER DATABASE|ROLE … SET`). */
export interface ScopedSettings {
  /** Null: every database. */
  database: string | null;
  /** Null: every role. */
  role: string | null;
  settings: Record<string, string>;
}

/** One reading; see the module documentation. */
export interface ConfigReading {
  database: string;
  /** Name → value as the Vigil session sees it (absent: the server does not know it). */
  settings: Record<string, string>;
  /** Database- and role-level settings among {@link READ_SETTINGS}, in a fixed order. */
  scoped: ScopedSettings[];
  /** `session_replication_role` of the session that reads: `origin` unless set somewhere. */
  session_replication_role: string;
  install: {
    installed: boolean;
    problems: string[];
    /** Event trigger → `pg_event_trigger.evtenabled` (`A` is ALWAYS). */
    event_triggers: Record<string, string>;
    /** Function signature → fingerprint. */
    functions: Record<string, string>;
  };
  publication: {
    name: string;
    exists: boolean;
    all_tables: boolean;
    table_count: number;
    /**
     * Permanent tables that exist and are not in the publication (at most
     * {@link TABLES_LISTED}): their changes never reach the WAL source.
     */
    excluded: string[];
    excluded_count: number;
  };
}

const TABLES_LISTED = 200;

function readingSql(publication: string): string {
  const names = READ_SETTINGS.map(quoteLiteral).join(", ");
  const pub = quoteLiteral(publication);
  return `WITH excluded AS (
  SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS t
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE ${WATCHED_TABLE_SQL} AND c.relkind = 'r'
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables p
                      WHERE p.pubname = ${pub} AND p.schemaname = n.nspname
                        AND p.tablename = c.relname)
)
SELECT json_build_object(
  'database', current_database(),
  'settings', (SELECT coalesce(json_object_agg(name, setting ORDER BY name), '{}')
                 FROM pg_catalog.pg_settings WHERE name IN (${names})
                  -- The session's own value, read once below.
                  AND name <> 'session_replication_role'),
  'scoped', (SELECT coalesce(json_agg(json_build_object('database', d.datname,
                 'role', r.rolname, 'settings', s.settings)
                 ORDER BY d.datname NULLS FIRST, r.rolname NULLS FIRST), '[]')
               FROM (SELECT setdatabase, setrole, json_object_agg(split_part(c, '=', 1),
                       substr(c, strpos(c, '=') + 1) ORDER BY c) AS settings
                       FROM pg_catalog.pg_db_role_setting, unnest(setconfig) AS c
                      WHERE split_part(c, '=', 1) IN (${names})
                      GROUP BY setdatabase, setrole) s
               LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
               LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole),
  'session_replication_role', current_setting('session_replication_role'),
  'publication', json_build_object(
    'exists', EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = ${pub}),
    'all_tables', coalesce((SELECT puballtables FROM pg_catalog.pg_publication
                             WHERE pubname = ${pub}), false),
    'table_count', (SELECT count(*) FROM pg_catalog.pg_publication_tables
                     WHERE pubname = ${pub}),
    'excluded', (SELECT coalesce(json_agg(t ORDER BY t), '[]') FROM (SELECT t FROM excluded
                   ORDER BY t LIMIT ${TABLES_LISTED}) l),
    'excluded_count', (SELECT count(*) FROM excluded)))`;
}

/** The SQL session the reader needs. */
export interface ReadSession {
  query(sql: string): Promise<{ rows: (string | null)[][] }>;
}

/** Reads the configuration of the session's database; `publication` is the source's. */
export async function readConfig(
  session: ReadSession,
  publication: string,
): Promise<ConfigReading> {
  const base = JSON.parse(String((await session.query(readingSql(publication))).rows[0]?.[0])) as {
    database: string;
    settings: Record<string, string>;
    scoped: ScopedSettings[];
    session_replication_role: string;
    publication: {
      exists: boolean;
      all_tables: boolean;
      table_count: number;
      excluded: string[];
      excluded_count: number;
    };
  };
  const install = JSON.parse(
    String((await session.query(INSTALL_CHECK_SQL)).rows[0]?.[0]),
  ) as InstallReading;
  const { installed, problems } = installProblems(install);
  return {
    database: base.database,
    settings: base.settings,
    scoped: base.scoped,
    session_replication_role: base.session_replication_role,
    install: {
      installed,
      problems: installed ? problems : [],
      event_triggers: Object.fromEntries(
        install.event_triggers.map((t) => [t.name, t.enabled] as const).sort(),
      ),
      functions: Object.fromEntries(Object.entries(install.functions).sort()),
    },
    publication: { name: publication, ...base.publication },
  };
}

/** A short hash of a reading's text: equal for equal configurations. */
export function readingHash(reading: ConfigReading): string {
  return sha256(JSON.stringify(reading)).slice(0, 16);
}

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}
