/**
 * The PostgreSQL side of WAL collection, as SQL text: what `vigil pg-install` runs in a
 * database so that the audit records the WAL cannot show by itself travel in it, as logical
 * decoding messages that the WAL source reads (`plugins/wal/vigil_messages.ts` defines their
 * format; the SQL below emits exactly that).
 *
 * - Two event triggers, `ddl_command_end` and `sql_drop`, emit one transactional `vigil.ddl`
 *   message per object a DDL command created, altered or dropped: command tag, object type,
 *   schema, object identity, the session user as `role`, and the statement (`current_query()`).
 *   Being transactional, a rolled-back DDL leaves nothing in the stream, and a committed one
 *   cannot commit without its record. A DDL command fails if its record cannot be written
 *   (`wal_level` below `logical`): audit first, which is why the installer checks `wal_level`.
 * - `vigil.set_context(ctx jsonb)` emits one transactional `vigil.context` message. An
 *   application calls it once per transaction, inside BEGIN … COMMIT; the WAL source attaches
 *   the context (and its `app_user` or `user`) to that transaction's row changes and DDL. No
 *   row trigger is involved: one message per transaction, whatever the number of rows.
 *
 * Everything lives in the schema `vigil`; every statement can run again (CREATE … IF NOT
 * EXISTS, CREATE OR REPLACE, an event trigger created or re-enabled only when it needs it), and
 * the installer runs them all in one transaction. The schema's comment is the version marker.
 *
 * This module is plain text and constants, with no imports, so that the WAL source can check
 * for the same trigger names without loading the installer's database client.
 */

/** The schema that holds Vigil's functions. */
export const VIGIL_SCHEMA = "vigil";

/** The version of the SQL below; bump it whenever the SQL changes. */
export const INSTALL_VERSION = 1;

/** The event triggers pg-install creates; the WAL source raises an alarm when one is gone. */
export const DDL_TRIGGERS: readonly string[] = Object.freeze([
  "vigil_ddl_command_end",
  "vigil_sql_drop",
]);

/** Start of the schema comment that marks an install by `vigil pg-install`. */
export const SCHEMA_MARKER = "Vigil: audit records embedded in the WAL";

/** What one install creates or replaces, for the installer's report. */
export const INSTALLED_OBJECTS: readonly string[] = Object.freeze([
  `schema ${VIGIL_SCHEMA}`,
  `function ${VIGIL_SCHEMA}.set_context(jsonb)`,
  `function ${VIGIL_SCHEMA}.emit_ddl_commands() (event trigger function)`,
  `function ${VIGIL_SCHEMA}.emit_dropped_objects() (event trigger function)`,
  `event trigger vigil_ddl_command_end ON ddl_command_end`,
  `event trigger vigil_sql_drop ON sql_drop`,
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
 * in one transaction. `search_path` is pinned in every function so that an object of the same
 * name in a user's schema cannot stand in for a catalog function.
 */
export function installStatements(): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${VIGIL_SCHEMA}`,
    `COMMENT ON SCHEMA ${VIGIL_SCHEMA} IS '${MARKER_COMMENT}'`,
    // Applications must reach set_context; nothing else in the schema is theirs to call.
    `GRANT USAGE ON SCHEMA ${VIGIL_SCHEMA} TO PUBLIC`,
    `CREATE OR REPLACE FUNCTION ${VIGIL_SCHEMA}.set_context(ctx jsonb) RETURNS void
      LANGUAGE plpgsql VOLATILE
      SET search_path = pg_catalog, pg_temp
      AS $vigil$
      BEGIN
        IF ctx IS NULL OR jsonb_typeof(ctx) <> 'object' THEN
          RAISE EXCEPTION 'vigil.set_context() takes a JSON object, not %',
            coalesce(jsonb_typeof(ctx), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- Transactional: stored with the transaction's changes, and gone if it rolls back.
        PERFORM pg_logical_emit_message(true, 'vigil.context', ctx::text);
      END
      $vigil$`,
    `COMMENT ON FUNCTION ${VIGIL_SCHEMA}.set_context(jsonb) IS ` +
    `'Attaches application who/why (a JSON object; "user" or "app_user" names the person) to ` +
    `the current transaction in Vigil''s audit trail. Call once per transaction, inside ` +
    `BEGIN ... COMMIT.'`,
    // Not SECURITY DEFINER: the session runs it, so session_user is who issued the DDL, and
    // pg_logical_emit_message is executable by everyone.
    `CREATE OR REPLACE FUNCTION ${VIGIL_SCHEMA}.emit_ddl_commands() RETURNS event_trigger
      LANGUAGE plpgsql
      SET search_path = pg_catalog, pg_temp
      AS $vigil$
      DECLARE
        r record;
      BEGIN
        FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
          PERFORM pg_logical_emit_message(true, 'vigil.ddl', json_build_object(
            'command_tag', r.command_tag,
            'object_type', r.object_type,
            'schema_name', r.schema_name,
            'object_identity', r.object_identity,
            'role', session_user,
            'statement', current_query())::text);
        END LOOP;
      END
      $vigil$`,
    // The objects named by the command (original) and those a CASCADE took with them (normal);
    // not the internal parts that go with every table (row type, TOAST table, index of a key).
    `CREATE OR REPLACE FUNCTION ${VIGIL_SCHEMA}.emit_dropped_objects() RETURNS event_trigger
      LANGUAGE plpgsql
      SET search_path = pg_catalog, pg_temp
      AS $vigil$
      DECLARE
        r record;
      BEGIN
        FOR r IN SELECT * FROM pg_event_trigger_dropped_objects() WHERE original OR normal LOOP
          PERFORM pg_logical_emit_message(true, 'vigil.ddl', json_build_object(
            'command_tag', tg_tag,
            'object_type', r.object_type,
            'schema_name', r.schema_name,
            'object_identity', r.object_identity,
            'role', session_user,
            'statement', current_query())::text);
        END LOOP;
      END
      $vigil$`,
    ensureEventTrigger("vigil_ddl_command_end", "ddl_command_end", "emit_ddl_commands"),
    ensureEventTrigger("vigil_sql_drop", "sql_drop", "emit_dropped_objects"),
  ];
}

/**
 * Creates an event trigger only when it is missing or not what the install made (another event
 * or function), and enables it only when disabled: a re-run on an intact install executes no
 * event trigger DDL at all, so pgAudit logs none and the detectors, which treat dropping or
 * altering an event trigger as tampering, see a repair only when there was something to repair.
 */
function ensureEventTrigger(name: string, event: string, fn: string): string {
  return `DO $vigil$
    BEGIN
      IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_event_trigger
        WHERE evtname = '${name}' AND evtevent = '${event}'
          AND evtfoid = '${VIGIL_SCHEMA}.${fn}()'::pg_catalog.regprocedure
      ) THEN
        -- Only a trigger that is there but wrong is dropped: pgAudit logs even a DROP … IF EXISTS
        -- that finds nothing, and that would read as tampering on a first install.
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = '${name}') THEN
          DROP EVENT TRIGGER ${name};
        END IF;
        CREATE EVENT TRIGGER ${name} ON ${event} EXECUTE FUNCTION ${VIGIL_SCHEMA}.${fn}();
      ELSIF (SELECT evtenabled FROM pg_catalog.pg_event_trigger WHERE evtname = '${name}') <> 'O'
      THEN
        ALTER EVENT TRIGGER ${name} ENABLE;
      END IF;
    END
    $vigil$`;
}
