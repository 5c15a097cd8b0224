/**
 * Whether `vigil pg-install`'s objects in a database are whole and as pg-install made them: the
 * schema and its version, each event trigger present, running its function and `ENABLE
 * ALWAYS` (`D` disabled, `O` origin-only and `R` replica-only are each a way to stop it in some
 * or all sessions), each function's body and settings by fingerprint, and the `vigil_stmt`
 * statement trigger on every permanent table, `ENABLE ALWAYS`. One query
 * ({@link INSTALL_CHECK_SQL}) and a pure judgement ({@link installProblems}) that names each
 * problem, for the watchdog's alarm and the configuration reading.
 */

import { expectedFingerprints } from "../../daemon/pg/fingerprint.ts";
import {
  FINGERPRINT_SQL,
  STATEMENT_TRIGGER,
  STATEMENT_TRIGGER_TYPE,
  VIGIL_FUNCTIONS,
  WATCHED_TABLE_SQL,
} from "../../daemon/pg/functions_sql.ts";
import {
  EVENT_TRIGGERS,
  INSTALL_VERSION,
  installedVersion,
  SCHEMA_MARKER,
  VIGIL_SCHEMA,
} from "../../daemon/pg/install_sql.ts";

/** What the check query reads, as JSON. */
export interface InstallReading {
  /** The schema's comment (the version marker), or null when no schema `vigil` exists. */
  marker: string | null;
  event_triggers: { name: string; fn: string; enabled: string }[];
  /** Signature → fingerprint of every function in the schema. */
  functions: Record<string, string>;
  /** Tables without an ALWAYS `vigil_stmt` trigger: `table=state` (`-` for none), at most 20. */
  tables_without: string[];
  tables_without_count: number;
}

const TABLES_LISTED = 20;

/** One row, one JSON column: the {@link InstallReading} of the database. */
export const INSTALL_CHECK_SQL = `WITH bad AS (
  SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) || '='
         || coalesce(t.tgenabled::text, '-') AS t
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_trigger t ON t.tgrelid = c.oid
         AND t.tgname = '${STATEMENT_TRIGGER}' AND t.tgtype = ${STATEMENT_TRIGGER_TYPE}
         AND t.tgfoid = pg_catalog.to_regprocedure('${VIGIL_SCHEMA}.emit_statement()')
   WHERE ${WATCHED_TABLE_SQL} AND t.tgenabled IS DISTINCT FROM 'A'
)
SELECT json_build_object(
  'marker', (SELECT pg_catalog.obj_description(oid, 'pg_namespace') FROM pg_catalog.pg_namespace
              WHERE nspname = '${VIGIL_SCHEMA}'),
  'event_triggers', (SELECT coalesce(json_agg(json_build_object('name', evtname,
      'fn', evtfoid::pg_catalog.regprocedure::text, 'enabled', evtenabled)), '[]')
      FROM pg_catalog.pg_event_trigger WHERE evtname LIKE 'vigil\\_%'),
  'functions', (SELECT coalesce(json_object_agg(p.oid::pg_catalog.regprocedure::text,
      ${FINGERPRINT_SQL}), '{}')
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = '${VIGIL_SCHEMA}'),
  'tables_without', (SELECT coalesce(json_agg(t ORDER BY t), '[]')
      FROM (SELECT t FROM bad ORDER BY t LIMIT ${TABLES_LISTED}) l),
  'tables_without_count', (SELECT count(*) FROM bad))`;

const STATE_NAMES: Readonly<Record<string, string>> = {
  D: "is disabled",
  O: "fires only in origin sessions (ENABLE), not in replica ones: it must be ENABLE ALWAYS",
  R: "fires only in replica sessions (ENABLE REPLICA): it must be ENABLE ALWAYS",
};

/**
 * What is wrong with the install (none: an empty list), and whether one is there at all. A
 * database where pg-install never ran has no problems of its own; the caller decides whether a
 * missing install is one (it is, once one was seen).
 */
export function installProblems(r: InstallReading): { installed: boolean; problems: string[] } {
  if (r.marker === null || !r.marker.startsWith(SCHEMA_MARKER)) {
    return { installed: false, problems: [`the schema ${VIGIL_SCHEMA} is gone`] };
  }
  const version = installedVersion(r.marker);
  if (version !== INSTALL_VERSION) {
    return {
      installed: true,
      problems: [
        `Vigil's SQL is version ${version ?? "unknown"}, not ${INSTALL_VERSION}: run vigil ` +
        `pg-install (statement triggers and ENABLE ALWAYS need it)`,
      ],
    };
  }
  const problems: string[] = [];
  for (const t of EVENT_TRIGGERS) {
    const found = r.event_triggers.find((e) => e.name === t.name);
    if (found === undefined) problems.push(`${t.name} is gone`);
    else if (found.fn !== t.fn) problems.push(`${t.name} runs ${found.fn}, not ${t.fn}`);
    else if (found.enabled !== "A") {
      problems.push(`${t.name} ${STATE_NAMES[found.enabled] ?? `is in state ${found.enabled}`}`);
    }
  }
  const want = expectedFingerprints();
  for (const fn of VIGIL_FUNCTIONS) {
    const got = r.functions[fn.signature];
    if (got === undefined) problems.push(`function ${fn.signature} is gone`);
    else if (got !== want[fn.signature]) {
      problems.push(`function ${fn.signature} was replaced: its body or settings differ`);
    }
  }
  if (r.tables_without_count > 0) {
    const more = r.tables_without_count - r.tables_without.length;
    const list = r.tables_without.map((t) => {
      const [name, state] = [t.slice(0, t.lastIndexOf("=")), t.slice(t.lastIndexOf("=") + 1)];
      return state === "-" ? `${name} (none)` : `${name} (state ${state})`;
    }).join(", ");
    problems.push(
      `${r.tables_without_count} table(s) without an ENABLE ALWAYS ${STATEMENT_TRIGGER} ` +
        `trigger: ${list}${more > 0 ? ` and ${more} more` : ""}`,
    );
  }
  return { installed: true, problems };
}
