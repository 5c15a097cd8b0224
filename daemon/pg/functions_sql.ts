/**
 * The functions of Vigil's `vigil` schema, as data: each one's signature, header and body, so
 * that the installer can create one only when its body differs from what it should be (a re-run
 * on an intact install replaces nothing, and DDL in the `vigil` schema means tampering), and the
 * WAL source's watchdog can compare what is in the database against the same text by hash.
 *
 * Every function pins `search_path`, so that an object of the same name in a user's schema
 * cannot stand in for a catalog function, and none is `SECURITY DEFINER`: the session runs
 * them, so `session_user` and `current_user` are who issued the statement.
 *
 * The `vigil.stmt` message (one per statement on a watched table) carries, as JSON:
 * `v` (1), `pid`, `vxid` (`"3/4"`, as csvlog and pgAudit print the virtual transaction id),
 * `xid` (32-bit transaction id, as text), `session_id` (csvlog's `<hex start epoch>.<hex pid>`),
 * `role` (session user), `current_user`, `client_addr` (text or null), `client_port` (int or
 * null), `application_name`, `statement` (`current_query()`), `schema`, `table`, `op`
 * (`INSERT`, `UPDATE`, `DELETE`, `TRUNCATE`), `stmt_ts` (`statement_timestamp()`, RFC 3339
 * with microseconds, UTC), and what the session had in force: `pgaudit_log` (null without
 * pgAudit; `none` in a session that turned pgAudit off, which pgAudit itself never logs) and
 * `replication_role` (`replica` in a session that skips ordinary triggers). Plain text and
 * constants, no imports.
 */

/** The `SET` clause every function carries, as PostgreSQL stores it in `pg_proc.proconfig`. */
export const FUNCTION_CONFIG = "search_path=pg_catalog, pg_temp";

/** One function of the schema. */
export interface VigilFunction {
  /** `vigil.name(argtypes)`, as `regprocedure` prints it. */
  signature: string;
  /** What follows the name in CREATE FUNCTION, up to (not including) `SET` and `AS`. */
  header: string;
  /** The body, exactly as stored in `pg_proc.prosrc`. */
  body: string;
}

const SET_CONTEXT: VigilFunction = {
  signature: "vigil.set_context(jsonb)",
  header: "(ctx jsonb) RETURNS void LANGUAGE plpgsql VOLATILE",
  body: `
BEGIN
  IF ctx IS NULL OR jsonb_typeof(ctx) <> 'object' THEN
    RAISE EXCEPTION 'vigil.set_context() takes a JSON object, not %',
      coalesce(jsonb_typeof(ctx), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Transactional: stored with the transaction's changes, and gone if it rolls back.
  PERFORM pg_logical_emit_message(true, 'vigil.context', ctx::text);
END
`,
};

const EMIT_DDL: VigilFunction = {
  signature: "vigil.emit_ddl_commands()",
  header: "() RETURNS event_trigger LANGUAGE plpgsql",
  body: `
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
`,
};

// The objects named by the command (original) and those a CASCADE took with them (normal);
// not the internal parts that go with every table (row type, TOAST table, index of a key).
const EMIT_DROPPED: VigilFunction = {
  signature: "vigil.emit_dropped_objects()",
  header: "() RETURNS event_trigger LANGUAGE plpgsql",
  body: `
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
`,
};

// The virtual transaction id is in no cheap function in PostgreSQL 15: the backend's own
// virtualxid lock (pg_lock_status(), the rows of pg_locks) is the one place it shows; that
// read is about a third of the trigger's cost. The session's start (for csvlog's session_id)
// is in its pg_stat_activity row, which PostgreSQL reads once per transaction. Neither is
// cached in a setting: any role can SET a custom setting, and so could make its writes look
// like another session's. One statement, so one trip through the executor per call.
const EMIT_STATEMENT: VigilFunction = {
  signature: "vigil.emit_statement()",
  header: "() RETURNS trigger LANGUAGE plpgsql",
  body: `
BEGIN
  PERFORM pg_logical_emit_message(true, 'vigil.stmt', json_build_object(
    'v', 1,
    'pid', pg_backend_pid(),
    'vxid', (SELECT l.virtualtransaction FROM pg_lock_status() l
              WHERE l.locktype = 'virtualxid' AND l.pid = pg_backend_pid()
                AND l.virtualxid = l.virtualtransaction),
    'xid', xid(pg_current_xact_id())::text,
    'session_id', (SELECT to_hex(trunc(extract(epoch FROM a.backend_start))::bigint)
                     FROM pg_stat_get_activity(pg_backend_pid()) a) || '.' ||
      to_hex(pg_backend_pid()),
    'role', session_user,
    'current_user', current_user,
    'client_addr', host(inet_client_addr()),
    'client_port', inet_client_port(),
    'application_name', current_setting('application_name'),
    'statement', current_query(),
    'schema', TG_TABLE_SCHEMA,
    'table', TG_TABLE_NAME,
    'op', TG_OP,
    'stmt_ts', to_char(statement_timestamp() AT TIME ZONE 'UTC',
      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'pgaudit_log', current_setting('pgaudit.log', true),
    'replication_role', current_setting('session_replication_role'))::text);
  RETURN NULL;
END
`,
};

/** Name of the statement trigger on each watched table. */
export const STATEMENT_TRIGGER = "vigil_stmt";

/**
 * `pg_trigger.tgtype` of the statement trigger: AFTER, FOR EACH STATEMENT, on INSERT (4),
 * DELETE (8), UPDATE (16) and TRUNCATE (32).
 */
export const STATEMENT_TRIGGER_TYPE = 60;

/**
 * The tables that get the statement trigger: permanent ordinary and partitioned tables outside
 * the catalogs and the `vigil` schema. Temporary and unlogged tables write no logical WAL.
 * A condition on `pg_class c` joined to `pg_namespace n`.
 */
export const WATCHED_TABLE_SQL = `c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'vigil')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

// Creates the trigger when missing or not what it should be, and makes it fire ALWAYS (also
// under session_replication_role = replica), touching nothing that is already right.
const ATTACH_ONE: VigilFunction = {
  signature: "vigil.attach_statement_trigger(regclass)",
  header: "(tbl regclass) RETURNS text LANGUAGE plpgsql",
  body: `
DECLARE
  t record;
BEGIN
  SELECT tg.tgfoid, tg.tgtype, tg.tgenabled, tg.tgqual, tg.tgattr::text AS attrs,
         tg.tgoldtable, tg.tgnewtable
    INTO t FROM pg_trigger tg
   WHERE tg.tgrelid = tbl AND tg.tgname = '${STATEMENT_TRIGGER}';
  IF FOUND AND (t.tgfoid <> 'vigil.emit_statement()'::regprocedure
      OR t.tgtype <> ${STATEMENT_TRIGGER_TYPE} OR t.tgqual IS NOT NULL OR t.attrs <> ''
      OR t.tgoldtable IS NOT NULL OR t.tgnewtable IS NOT NULL) THEN
    EXECUTE format('DROP TRIGGER ${STATEMENT_TRIGGER} ON %s', tbl);
    FOUND := false;
  END IF;
  IF NOT FOUND THEN
    EXECUTE format('CREATE TRIGGER ${STATEMENT_TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR '
      'TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION vigil.emit_statement()', tbl);
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER ${STATEMENT_TRIGGER}', tbl);
    RETURN 'created';
  END IF;
  IF t.tgenabled <> 'A' THEN
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER ${STATEMENT_TRIGGER}', tbl);
    RETURN 'enabled';
  END IF;
  RETURN 'intact';
END
`,
};

const ATTACH_ALL: VigilFunction = {
  signature: "vigil.attach_statement_triggers()",
  header: "() RETURNS TABLE (tbl text, action text) LANGUAGE plpgsql",
  body: `
DECLARE
  r record;
  done text;
BEGIN
  FOR r IN SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE ${WATCHED_TABLE_SQL} ORDER BY c.oid LOOP
    done := vigil.attach_statement_trigger(r.oid::regclass);
    IF done <> 'intact' THEN
      tbl := r.oid::regclass::text;
      action := done;
      RETURN NEXT;
    END IF;
  END LOOP;
END
`,
};

// A table created after the install gets its trigger in the same transaction as its CREATE.
const ATTACH_NEW: VigilFunction = {
  signature: "vigil.attach_new_tables()",
  header: "() RETURNS event_trigger LANGUAGE plpgsql",
  body: `
DECLARE
  r record;
BEGIN
  FOR r IN SELECT c.oid FROM pg_event_trigger_ddl_commands() d
             JOIN pg_class c ON c.oid = d.objid
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE d.classid = 'pg_class'::regclass AND d.object_type = 'table'
              AND ${WATCHED_TABLE_SQL} LOOP
    PERFORM vigil.attach_statement_trigger(r.oid::regclass);
  END LOOP;
END
`,
};

/** Every function of the schema, in the order they are created. */
export const VIGIL_FUNCTIONS: readonly VigilFunction[] = Object.freeze([
  SET_CONTEXT,
  EMIT_DDL,
  EMIT_DROPPED,
  EMIT_STATEMENT,
  ATTACH_ONE,
  ATTACH_ALL,
  ATTACH_NEW,
]);

/**
 * SQL for the fingerprint of a function row `p` of pg_proc: sha256 (hex) over its body, its
 * settings and whether it is SECURITY DEFINER, one per line. {@link functionFingerprintText}
 * is the same text on this side.
 */
export const FINGERPRINT_SQL = `encode(sha256(convert_to(p.prosrc || E'\\n' ||
  coalesce(array_to_string(p.proconfig, E'\\n'), '') || E'\\n' ||
  CASE WHEN p.prosecdef THEN 'definer' ELSE 'invoker' END, 'UTF8')), 'hex')`;

/** The text whose sha256 is a correctly installed function's fingerprint. */
export function functionFingerprintText(fn: VigilFunction): string {
  return `${fn.body}\n${FUNCTION_CONFIG}\ninvoker`;
}
