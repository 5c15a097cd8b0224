/**
 * `vigil pg-install` against a real PostgreSQL 15: the install is whole, ENABLE ALWAYS, repairs
 * any other state, updates a version 1 install, and runs again without DDL; a
 * role that is not a superuser is refused before anything changes, and a bad DSN is a usage
 * error. What the installed triggers put in the WAL is in `tests/plugins/wal/ddl_test.ts`.
 */

import { installPgSide, InstallRefusedError } from "../../../daemon/pg/install.ts";
import { DDL_TRIGGERS, INSTALL_VERSION } from "../../../daemon/pg/install_sql.ts";
import { VIGIL_FUNCTIONS } from "../../../daemon/pg/functions_sql.ts";
import { assert, assertEquals, assertEventually, assertRejects } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { type PgCluster, startPostgres } from "../../support/postgres.ts";

Deno.test("vigil pg-install installs ENABLE ALWAYS, then re-applies without DDL, and refuses a non-superuser", async () => {
  await using pg = await startPostgres();
  await pg.sql("CREATE TABLE before_install (id int PRIMARY KEY)");
  const first = await runVigil(["pg-install", "--dsn", pg.dsn()]);
  assertEquals([first.code, first.stderr], [0, ""]);
  assert(first.stdout.startsWith(`installed version ${INSTALL_VERSION} `), first.stdout);
  assert(first.stdout.includes("event trigger vigil_sql_drop ON sql_drop"), first.stdout);
  assert(
    first.stdout.includes("put the statement trigger on public.before_install"),
    first.stdout,
  );

  // What pgAudit logged of event triggers: a first install creates them and sets them ALWAYS,
  // and drops nothing (a DROP … IF EXISTS would be logged, and detection takes a dropped event
  // trigger for tampering).
  assertEquals(await triggerDdl(pg), [
    ...DDL_TRIGGERS.flatMap(() => ["CREATE EVENT TRIGGER", "ALTER EVENT TRIGGER"]),
  ]);
  const oids = "SELECT string_agg(oid::text, ' ' ORDER BY evtname) FROM pg_event_trigger";
  const firstOids = await pg.sql(oids);
  const ddlBefore = (await allDdl(pg)).length;
  const second = await runVigil(["pg-install", "--dsn", pg.dsn()]);
  assertEquals([second.code, second.stderr], [0, ""]);
  // An intact install is left alone: no DDL at all (pgAudit would log it, and the detectors
  // rightly call DDL on the vigil schema and its event triggers tampering).
  assertEquals((await allDdl(pg)).slice(ddlBefore), []);
  assertEquals(await pg.sql(oids), firstOids);
  assert(second.stdout.startsWith(`re-applied version ${INSTALL_VERSION} `), second.stdout);
  assert(!second.stdout.includes("statement trigger on"), second.stdout);
  assertEquals(await pg.sql(EVENT_TRIGGER_STATE), INTACT_EVENT_TRIGGERS);
  assertEquals(await pg.sql(`${FUNCTION_COUNT}`), String(VIGIL_FUNCTIONS.length));

  // A table made after the install gets its statement trigger, ALWAYS, in the same transaction.
  await pg.sql("CREATE TABLE after_install (id int)");
  await pg.sql("CREATE TABLE made_as AS SELECT 1 AS id");
  assertEquals(
    await pg.sql(STATEMENT_TRIGGER_STATE),
    "after_install:A:60 before_install:A:60 made_as:A:60",
  );

  // An application role can call set_context without any grant of its own.
  await pg.sql("CREATE ROLE app LOGIN");
  assertEquals(
    await pg.sql(`SELECT vigil.set_context('{"user":"ada"}')`, "postgres", { user: "app" }),
    "",
  );
  const refusedContext = await pg.sql("SELECT vigil.set_context('[1]')").catch(String);
  assert(refusedContext.includes("takes a JSON object, not array"), refusedContext);

  // Every other state is repaired: an event trigger disabled, ENABLE REPLICA or ENABLE (origin
  // only), a statement trigger disabled, replaced or gone, a function body replaced.
  await pg.sql(`ALTER EVENT TRIGGER vigil_ddl_command_end DISABLE;
    ALTER EVENT TRIGGER vigil_sql_drop ENABLE REPLICA;
    ALTER EVENT TRIGGER vigil_attach_new_tables ENABLE;
    ALTER TABLE before_install ENABLE REPLICA TRIGGER vigil_stmt;
    ALTER TABLE made_as DISABLE TRIGGER vigil_stmt;
    DROP TRIGGER vigil_stmt ON after_install;
    CREATE OR REPLACE FUNCTION vigil.emit_ddl_commands() RETURNS event_trigger
      LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$ BEGIN END $$;`);
  const repaired = await runVigil(["pg-install", "--dsn", pg.dsn()]);
  assertEquals(repaired.code, 0, repaired.stderr);
  assertEquals(await pg.sql(oids), firstOids);
  assertEquals(await pg.sql(EVENT_TRIGGER_STATE), INTACT_EVENT_TRIGGERS);
  assertEquals(
    await pg.sql(STATEMENT_TRIGGER_STATE),
    "after_install:A:60 before_install:A:60 made_as:A:60",
  );
  for (
    const line of [
      "re-enabled the statement trigger on public.before_install",
      "re-enabled the statement trigger on public.made_as",
      "put the statement trigger on public.after_install",
    ]
  ) {
    assert(repaired.stdout.includes(line), repaired.stdout);
  }
  const body = await pg.sql(
    "SELECT prosrc FROM pg_proc WHERE oid = 'vigil.emit_ddl_commands()'::regprocedure",
  );
  assert(body.includes("pg_event_trigger_ddl_commands()"), body);

  // A non-superuser: refused, naming the missing attribute, with the install left as it was.
  await pg.sql("DROP EVENT TRIGGER vigil_sql_drop");
  const refused = await runVigil(["pg-install", "--dsn", pg.dsn("postgres", "app")]);
  assertEquals(refused.code, 3);
  assert(refused.stderr.includes(`role "app" is not a superuser`), refused.stderr);
  assert(refused.stderr.includes("create event triggers"), refused.stderr);
  assertEquals(
    await pg.sql("SELECT count(*) FROM pg_event_trigger"),
    String(DDL_TRIGGERS.length - 1),
  );
  // A superuser's run puts the dropped trigger back.
  const again = await runVigil(["pg-install", "--dsn", pg.dsn()]);
  assertEquals(again.code, 0, again.stderr);
  assertEquals(await pg.sql(EVENT_TRIGGER_STATE), INTACT_EVENT_TRIGGERS);
});

Deno.test("vigil pg-install updates a version 1 install: triggers ALWAYS, statement triggers on every table", async () => {
  await using pg = await startPostgres();
  await pg.sql("CREATE TABLE accounts (id int PRIMARY KEY, balance int)");
  await pg.sql(
    await Deno.readTextFile(new URL("../../testdata/pg_install_v1.sql", import.meta.url)),
  );
  assertEquals(
    await pg.sql(EVENT_TRIGGER_STATE),
    "vigil_ddl_command_end:O:vigil.emit_ddl_commands vigil_sql_drop:O:vigil.emit_dropped_objects",
  );
  const updated = await runVigil(["pg-install", "--dsn", pg.dsn()]);
  assertEquals([updated.code, updated.stderr], [0, ""]);
  assert(
    updated.stdout.startsWith(`updated from version 1 to ${INSTALL_VERSION} `),
    updated.stdout,
  );
  assertEquals(await pg.sql(EVENT_TRIGGER_STATE), INTACT_EVENT_TRIGGERS);
  assertEquals(await pg.sql(STATEMENT_TRIGGER_STATE), "accounts:A:60");
  assertEquals(await pg.sql(FUNCTION_COUNT), String(VIGIL_FUNCTIONS.length));
});

const EVENT_TRIGGER_STATE =
  `SELECT string_agg(evtname || ':' || evtenabled::text || ':' || evtfoid::regproc::text, ' '
    ORDER BY evtname) FROM pg_event_trigger`;
const INTACT_EVENT_TRIGGERS = "vigil_attach_new_tables:A:vigil.attach_new_tables " +
  "vigil_ddl_command_end:A:vigil.emit_ddl_commands vigil_sql_drop:A:vigil.emit_dropped_objects";
const STATEMENT_TRIGGER_STATE =
  `SELECT string_agg(tgrelid::regclass::text || ':' || tgenabled::text || ':' || tgtype, ' '
    ORDER BY tgrelid::regclass::text) FROM pg_trigger WHERE tgname = 'vigil_stmt'`;
const FUNCTION_COUNT = "SELECT count(*) FROM pg_proc WHERE pronamespace = 'vigil'::regnamespace";

/** Every DDL command pgAudit logged so far, in order (after a marker is logged). */
async function allDdl(pg: PgCluster): Promise<string[]> {
  const text = await flushedCsvlog(pg);
  return [...text.matchAll(/AUDIT: SESSION,\d+,\d+,DDL,([A-Z ]+),/g)].map((m) => m[1]!);
}

async function flushedCsvlog(pg: PgCluster): Promise<string> {
  const marker = `vigil-flush-${crypto.randomUUID()}`;
  await pg.sql(`SELECT '${marker}'`);
  const csv = (await pg.logFiles()).csvlog;
  return await assertEventually(async () => {
    const t = await Deno.readTextFile(csv);
    return t.includes(marker) ? t : undefined;
  }, { timeoutMs: 10_000, message: "the marker reached the csvlog" });
}

/** The event trigger DDL commands pgAudit logged so far, in order (after a marker is logged). */
async function triggerDdl(pg: PgCluster): Promise<string[]> {
  const text = await flushedCsvlog(pg);
  return [...text.matchAll(/AUDIT: SESSION,\d+,\d+,DDL,((?:CREATE|DROP|ALTER) EVENT TRIGGER),/g)]
    .map((m) => m[1]!);
}

Deno.test("vigil pg-install refuses a bad DSN as a usage error, without echoing it", async () => {
  const bad = await runVigil(["pg-install", "--dsn", "mysql://root:s3cret@db/x"]);
  assertEquals(bad.code, 2);
  assert(bad.stderr.includes("postgres:// or postgresql:// URL"), bad.stderr);
  assert(!bad.stderr.includes("s3cret"), bad.stderr);
  const missing = await runVigil(["pg-install"]);
  assertEquals([missing.code, missing.stderr.trim()], [2, "vigil pg-install: missing --dsn"]);
});

Deno.test("installPgSide() refuses a server whose wal_level would make every DDL fail", async () => {
  await using pg = await startPostgres({ settings: { wal_level: "replica" } });
  await assertRejects(() => installPgSide(pg.dsn()), {
    instanceOf: InstallRefusedError,
    message: 'wal_level is "replica", not "logical"',
  });
  assertEquals(await pg.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'vigil'"), "0");
});
