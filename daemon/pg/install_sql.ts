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
 * Everything lives in the schema `vigil`; every statement can run again and changes only what
 * is not as it should be (a function whose body differs, a trigger missing, wrong or in another
 * state), so a re-run on an intact install executes no DDL at all — pgAudit logs none, and the
 * detectors, which take DDL on the `vigil` schema and on event triggers for tampering, see a
 * repair only when there was something to repair. The schema's comment is the version marker.
 *
 * This module is plain text and constants, with no imports but the function texts, so that the
 * WAL source can check for the same names without loading the installer's database client.
 */

import {
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

/**
 * The install, as separate statements (the installer's client sends one at a time), all to run
 * in one transaction. The last one returns a row per table whose statement trigger it created
 * or re-enabled.
 */
export function installStatements(): string[] {
  return [
    `DO $vigil$ BEGIN
      -- Not CREATE SCHEMA IF NOT EXISTS: pgAudit logs that even when it does nothing.
      IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '${VIGIL_SCHEMA}') THEN
        CREATE SCHEMA ${VIGIL_SCHEMA};
      END IF;
      IF obj_description('${VIGIL_SCHEMA}'::regnamespace, 'pg_namespace')
         IS DISTINCT FROM '${MARKER_COMMENT}' THEN
        COMMENT ON SCHEMA ${VIGIL_SCHEMA} IS '${MARKER_COMMENT}';
      END IF;
      -- Applications must reach set_context; nothing else in the schema is theirs to call.
      IF NOT has_schema_privilege('public', '${VIGIL_SCHEMA}', 'USAGE') THEN
        GRANT USAGE ON SCHEMA ${VIGIL_SCHEMA} TO PUBLIC;
      END IF;
    END $vigil$`,
    ...VIGIL_FUNCTIONS.map(ensureFunction),
    `DO $vigil$ BEGIN
      IF obj_description('vigil.set_context(jsonb)'::regprocedure, 'pg_proc') IS NULL THEN
        COMMENT ON FUNCTION ${VIGIL_SCHEMA}.set_context(jsonb) IS 'Attaches application ` +
    `who/why (a JSON object; "user" or "app_user" names the person) to the current transaction ` +
    `in Vigil''s audit trail. Call once per transaction, inside BEGIN ... COMMIT.';
      END IF;
    END $vigil$`,
    ...EVENT_TRIGGERS.map(ensureEventTrigger),
    `SELECT tbl, action FROM ${VIGIL_SCHEMA}.attach_statement_triggers()`,
  ];
}

/** Replaces a function only when it is missing or its body or settings differ. */
function ensureFunction(fn: VigilFunction): string {
  const name = fn.signature.slice(0, fn.signature.indexOf("("));
  const [key, value] = FUNCTION_CONFIG.split("=") as [string, string];
  return `DO $vigil_do$ BEGIN
    IF NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_proc
       WHERE oid = pg_catalog.to_regprocedure('${fn.signature}')
         AND prosrc = $vigil_body$${fn.body}$vigil_body$
         AND proconfig = ARRAY['${FUNCTION_CONFIG}'] AND NOT prosecdef
    ) THEN
      CREATE OR REPLACE FUNCTION ${name}${fn.header}
        SET ${key} = ${value}
        AS $vigil$${fn.body}$vigil$;
    END IF;
  END $vigil_do$`;
}

/**
 * Creates an event trigger only when it is missing or not what the install made (another event,
 * function or tags), and sets it ENABLE ALWAYS only when it is in another state.
 */
function ensureEventTrigger(t: VigilEventTrigger): string {
  const tags = t.tags === undefined ? "NULL" : `ARRAY[${t.tags.map((x) => `'${x}'`).join(", ")}]`;
  const when = t.tags === undefined
    ? ""
    : ` WHEN TAG IN (${t.tags.map((x) => `'${x}'`).join(", ")})`;
  return `DO $vigil$
    BEGIN
      IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_event_trigger
        WHERE evtname = '${t.name}' AND evtevent = '${t.event}'
          AND evtfoid = '${t.fn}'::pg_catalog.regprocedure
          AND evttags IS NOT DISTINCT FROM ${tags}::text[]
      ) THEN
        -- Only a trigger that is there but wrong is dropped: pgAudit logs even a DROP … IF EXISTS
        -- that finds nothing, and that would read as tampering on a first install.
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = '${t.name}') THEN
          DROP EVENT TRIGGER ${t.name};
        END IF;
        CREATE EVENT TRIGGER ${t.name} ON ${t.event}${when} EXECUTE FUNCTION ${t.fn};
      END IF;
      IF (SELECT evtenabled FROM pg_catalog.pg_event_trigger WHERE evtname = '${t.name}') <> 'A'
      THEN
        ALTER EVENT TRIGGER ${t.name} ENABLE ALWAYS;
      END IF;
    END
    $vigil$`;
}
