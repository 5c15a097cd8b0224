-- The SQL of vigil pg-install version 1, as it was released: the upgrade test installs it first.
CREATE SCHEMA IF NOT EXISTS vigil;

COMMENT ON SCHEMA vigil IS 'Vigil: audit records embedded in the WAL (version 1); installed by vigil pg-install. Applications call vigil.set_context(jsonb) once per transaction.';

GRANT USAGE ON SCHEMA vigil TO PUBLIC;

CREATE OR REPLACE FUNCTION vigil.set_context(ctx jsonb) RETURNS void
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
      $vigil$;

COMMENT ON FUNCTION vigil.set_context(jsonb) IS 'Attaches application who/why (a JSON object; "user" or "app_user" names the person) to the current transaction in Vigil''s audit trail. Call once per transaction, inside BEGIN ... COMMIT.';

CREATE OR REPLACE FUNCTION vigil.emit_ddl_commands() RETURNS event_trigger
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
      $vigil$;

CREATE OR REPLACE FUNCTION vigil.emit_dropped_objects() RETURNS event_trigger
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
      $vigil$;

DO $vigil$
    BEGIN
      IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_event_trigger
        WHERE evtname = 'vigil_ddl_command_end' AND evtevent = 'ddl_command_end'
          AND evtfoid = 'vigil.emit_ddl_commands()'::pg_catalog.regprocedure
      ) THEN
        -- Only a trigger that is there but wrong is dropped: pgAudit logs even a DROP … IF EXISTS
        -- that finds nothing, and that would read as tampering on a first install.
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = 'vigil_ddl_command_end') THEN
          DROP EVENT TRIGGER vigil_ddl_command_end;
        END IF;
        CREATE EVENT TRIGGER vigil_ddl_command_end ON ddl_command_end EXECUTE FUNCTION vigil.emit_ddl_commands();
      ELSIF (SELECT evtenabled FROM pg_catalog.pg_event_trigger WHERE evtname = 'vigil_ddl_command_end') <> 'O'
      THEN
        ALTER EVENT TRIGGER vigil_ddl_command_end ENABLE;
      END IF;
    END
    $vigil$;

DO $vigil$
    BEGIN
      IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_event_trigger
        WHERE evtname = 'vigil_sql_drop' AND evtevent = 'sql_drop'
          AND evtfoid = 'vigil.emit_dropped_objects()'::pg_catalog.regprocedure
      ) THEN
        -- Only a trigger that is there but wrong is dropped: pgAudit logs even a DROP … IF EXISTS
        -- that finds nothing, and that would read as tampering on a first install.
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = 'vigil_sql_drop') THEN
          DROP EVENT TRIGGER vigil_sql_drop;
        END IF;
        CREATE EVENT TRIGGER vigil_sql_drop ON sql_drop EXECUTE FUNCTION vigil.emit_dropped_objects();
      ELSIF (SELECT evtenabled FROM pg_catalog.pg_event_trigger WHERE evtname = 'vigil_sql_drop') <> 'O'
      THEN
        ALTER EVENT TRIGGER vigil_sql_drop ENABLE;
      END IF;
    END
    $vigil$;
