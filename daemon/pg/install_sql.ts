/**
 * The PostgreSQL side of WAL collection, as SQL text: what `vigil pg-install` runs in a
 * database so that the audit records the WAL cannot show by itself travel in it, as logical
 * decoding messages that the WAL source reads (`plugins/wal/vigil_messages.ts` reads them).
 *
 * - Two event triggers, `ddl_command_end` and `sql_drop`, emit one transactional `vigil.ddl`
 *   message per object a DDL command created, altered or dropped: command tag, object type,
 *   schema, object identity, the session user as `role`, and the statement (`current_query()`).
 *   Being transactional, a rolled-back DDL leaves nothing in the stream, and a committed one
 *   cannot commit without its record. A DDL command fails if its record cannot be written
 *   (`wal_level` below `logical`): audit first, which is why the installer checks `wal_level`.
 * - A statement trigger `vigil_stmt` (AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE, FOR EACH
 *   STATEMENT) on every permanent table emits one transactional `vigil.stmt` message per
 *   statement that writes it: who (pid, virtual and real transaction id, session id, roles,
 *   client, application) and what (statement, table, operation), so that row changes can be
 *   joined to the session and to pgAudit's lines. One message per statement, whatever the number
 *   of rows. A third event trigger, on CREATE TABLE (and CREATE TABLE AS, SELECT INTO), puts the
 *   trigger on a new table in the transaction that creates it.
 * - `vigil.set_context(ctx jsonb)` emits one transactional `vigil.context` message. An
 *   application calls it once per transaction, inside BEGIN … COMMIT; the WAL source attaches
 *   the context (and its `app_user` or `user`) to that transaction's row changes and DDL.
 *
 * Every trigger is `ENABLE ALWAYS`: PostgreSQL skips triggers in the default (origin) state in
 * a session with `session_replication_role = replica`, which would let any superuser session
 * write and change the schema unrecorded.
 *
 * Everything lives in the schema `vigil`. The installer reads what is there ({@link STATE_SQL})
 * and sends only what is missing or not as it should be ({@link installPlan}: a function whose
 * body differs, a trigger missing, wrong or in another state), each as a top-level statement of
 * a fixed text, so a re-run on an intact install executes no DDL at all — pgAudit logs none —
 * and detection, which takes DDL on the `vigil` schema and on event triggers for tampering,
 * knows the installer's own statements by their exact text ({@link installerStatements}). The
 * schema's comment is the version marker.
 *
 * This module is plain text and constants, with no imports but the function texts, so that the
 * WAL source can check for the same names without loading the installer's database client.
 */

import {
  FINGERPRINT_SQL,
  FUNCTION_CONFIG,
  STATEMENT_TRIGGER,
  VIGIL_FUNCTIONS,
  type VigilFunction,
} from "./functions_sql.ts";

/** The schema that holds Vigil's functions. */
export const VIGIL_SCHEMA = "vigil";

/**
 * The version of the SQL below; bump it whenever the SQL changes. 2: statement triggers and
 * their `vigil.stmt` message, every trigger ENABLE ALWAYS, functions replaced only when changed.
 */
export const INSTALL_VERSION = 2;

/** An event trigger of the install: name, event, function, and tags it is limited to. */
export interface VigilEventTrigger {
  name: string;
  event: string;
  fn: string;
  tags?: readonly string[];
}

/** The event triggers pg-install creates, all ENABLE ALWAYS. */
export const EVENT_TRIGGERS: readonly VigilEventTrigger[] = Object.freeze([
  {
    name: "vigil_attach_new_tables",
    event: "ddl_command_end",
    fn: "vigil.attach_new_tables()",
    tags: ["CREATE TABLE", "CREATE TABLE AS", "SELECT INTO"],
  },
  { name: "vigil_ddl_command_end", event: "ddl_command_end", fn: "vigil.emit_ddl_commands()" },
  { name: "vigil_sql_drop", event: "sql_drop", fn: "vigil.emit_dropped_objects()" },
]);

/** The names of the event triggers; the WAL source raises an alarm when one is gone. */
export const DDL_TRIGGERS: readonly string[] = Object.freeze(EVENT_TRIGGERS.map((t) => t.name));

export { STATEMENT_TRIGGER };

/** Start of the schema comment that marks an install by `vigil pg-install`. */
export const SCHEMA_MARKER = "Vigil: audit records embedded in the WAL";

/** What one install holds, for the installer's report. */
export const INSTALLED_OBJECTS: readonly string[] = Object.freeze([
  `schema ${VIGIL_SCHEMA}`,
  ...VIGIL_FUNCTIONS.map((f) => `function ${f.signature}`),
  ...EVENT_TRIGGERS.map((t) => `event trigger ${t.name} ON ${t.event} (ENABLE ALWAYS)`),
  `statement trigger ${STATEMENT_TRIGGER} on every permanent table (ENABLE ALWAYS)`,
]);

/** The version recorded in a schema comment, or undefined when it is not Vigil's marker. */
export function installedVersion(comment: string | null | undefined): number | undefined {
  if (typeof comment !== "string" || !comment.startsWith(SCHEMA_MARKER)) return undefined;
  const m = /\(version (\d+)\)/.exec(comment);
  return m ? Number(m[1]) : undefined;
}

const MARKER_COMMENT =
  `${SCHEMA_MARKER} (version ${INSTALL_VERSION}); installed by vigil pg-install. ` +
  `Applications call vigil.set_context(jsonb) once per transaction.`;

/** What is in the database now, as the installer reads it ({@link STATE_SQL}). */
export interface InstalledState {
  schema: boolean;
  comment: string | null;
  usage: boolean;
  /** `regprocedure` text → fingerprint ({@link FINGERPRINT_SQL}) of each function in the schema. */
  functions: Record<string, string>;
  set_context_comment: boolean;
  event_triggers: {
    name: string;
    event: string;
    fn: string;
    tags: string[] | null;
    enabled: string;
  }[];
}

/** One row, one JSON column: the {@link InstalledState} of the database. */
export const STATE_SQL = `SELECT json_build_object(
  'schema', EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = '${VIGIL_SCHEMA}'),
  'comment', (SELECT pg_catalog.obj_description(oid, 'pg_namespace')
                FROM pg_catalog.pg_namespace WHERE nspname = '${VIGIL_SCHEMA}'),
  'usage', EXISTS (SELECT 1 FROM pg_catalog.pg_namespace
                    WHERE nspname = '${VIGIL_SCHEMA}'
                      AND pg_catalog.has_schema_privilege('public', oid, 'USAGE')),
  'functions', (SELECT coalesce(json_object_agg(p.oid::pg_catalog.regprocedure::text,
                  ${FINGERPRINT_SQL}), '{}')
                  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n
                    ON n.oid = p.pronamespace WHERE n.nspname = '${VIGIL_SCHEMA}'),
  'set_context_comment', EXISTS (SELECT 1 FROM pg_catalog.pg_description d
                   WHERE d.objoid = pg_catalog.to_regprocedure('vigil.set_context(jsonb)')
                     AND d.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass),
  'event_triggers', (SELECT coalesce(json_agg(json_build_object('name', evtname,
                  'event', evtevent, 'fn', evtfoid::pg_catalog.regprocedure::text,
                  'tags', evttags, 'enabled', evtenabled) ORDER BY evtname), '[]')
                  FROM pg_catalog.pg_event_trigger))`;

/** `CREATE OR REPLACE FUNCTION` for one function, exactly as the installer sends it. */
export function createFunctionSql(fn: VigilFunction): string {
  const name = fn.signature.slice(0, fn.signature.indexOf("("));
  const [key, value] = FUNCTION_CONFIG.split("=") as [string, string];
  return `CREATE OR REPLACE FUNCTION ${name}${fn.header}\n  SET ${key} = ${value}\n` +
    `  AS $vigil$${fn.body}$vigil$`;
}

/** `CREATE EVENT TRIGGER` for one event trigger, exactly as the installer sends it. */
export function createEventTriggerSql(t: VigilEventTrigger): string {
  const when = t.tags === undefined
    ? ""
    : ` WHEN TAG IN (${t.tags.map((x) => `'${x}'`).join(", ")})`;
  return `CREATE EVENT TRIGGER ${t.name} ON ${t.event}${when} EXECUTE FUNCTION ${t.fn}`;
}

/** `ALTER EVENT TRIGGER … ENABLE ALWAYS`, exactly as the installer sends it. */
export function enableAlwaysSql(name: string): string {
  return `ALTER EVENT TRIGGER ${name} ENABLE ALWAYS`;
}

export const CREATE_SCHEMA_SQL = `CREATE SCHEMA ${VIGIL_SCHEMA}`;
export const COMMENT_SCHEMA_SQL = `COMMENT ON SCHEMA ${VIGIL_SCHEMA} IS '${MARKER_COMMENT}'`;
// Applications must reach set_context; nothing else in the schema is theirs to call.
export const GRANT_USAGE_SQL = `GRANT USAGE ON SCHEMA ${VIGIL_SCHEMA} TO PUBLIC`;
export const COMMENT_SET_CONTEXT_SQL = `COMMENT ON FUNCTION ${VIGIL_SCHEMA}.set_context(jsonb) ` +
  `IS 'Attaches application who/why (a JSON object; "user" or "app_user" names the person) to ` +
  `the current transaction in Vigil''s audit trail. Call once per transaction, inside ` +
  `BEGIN ... COMMIT.'`;
/** Puts the statement trigger on every table that lacks it; a row per table changed. */
export const ATTACH_ALL_SQL = `SELECT tbl, action FROM ${VIGIL_SCHEMA}.attach_statement_triggers()`;

/**
 * The statements an install sends to go from `state` to a whole install of this version, in
 * order, all to run in one transaction: only what is missing or not as it should be, so an
 * intact install gets none but {@link ATTACH_ALL_SQL} (a query that changes nothing when every
 * table has its trigger). A function is compared by fingerprint (`fingerprints`: signature →
 * the fingerprint it must have); an event trigger that exists but is wrong is dropped first —
 * only then, since pgAudit logs even a DROP … IF EXISTS that finds nothing.
 */
export function installPlan(
  state: InstalledState,
  fingerprints: Readonly<Record<string, string>>,
): string[] {
  const plan: string[] = [];
  if (!state.schema) plan.push(CREATE_SCHEMA_SQL);
  if (state.comment !== MARKER_COMMENT) plan.push(COMMENT_SCHEMA_SQL);
  if (!state.usage) plan.push(GRANT_USAGE_SQL);
  for (const fn of VIGIL_FUNCTIONS) {
    if (state.functions[fn.signature] !== fingerprints[fn.signature]) {
      plan.push(createFunctionSql(fn));
    }
  }
  if (!state.set_context_comment) plan.push(COMMENT_SET_CONTEXT_SQL);
  for (const t of EVENT_TRIGGERS) {
    const found = state.event_triggers.find((e) => e.name === t.name);
    const right = found !== undefined && found.event === t.event && found.fn === t.fn &&
      JSON.stringify(found.tags) === JSON.stringify(t.tags ?? null);
    if (found !== undefined && !right) plan.push(`DROP EVENT TRIGGER ${t.name}`);
    if (!right) plan.push(createEventTriggerSql(t));
    if (!right || found.enabled !== "A") plan.push(enableAlwaysSql(t.name));
  }
  plan.push(ATTACH_ALL_SQL);
  return plan;
}

/**
 * Every statement text the installer of this version can send that changes Vigil's own objects:
 * detection does not take one of these, sent alone and unchanged, for tampering (it makes the
 * objects exactly what pg-install makes them).
 */
export function installerStatements(): ReadonlySet<string> {
  return new Set([
    CREATE_SCHEMA_SQL,
    COMMENT_SCHEMA_SQL,
    GRANT_USAGE_SQL,
    COMMENT_SET_CONTEXT_SQL,
    ATTACH_ALL_SQL,
    ...VIGIL_FUNCTIONS.map(createFunctionSql),
    ...EVENT_TRIGGERS.flatMap((t) => [createEventTriggerSql(t), enableAlwaysSql(t.name)]),
  ]);
}
