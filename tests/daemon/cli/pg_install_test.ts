/**
 * `vigil pg-install` against a real PostgreSQL 15: the install is whole and can run again, a
 * role that is not a superuser is refused before anything changes, and a bad DSN is a usage
 * error. What the installed triggers put in the WAL is in `tests/plugins/wal/ddl_test.ts`.
 */

import { installPgSide, InstallRefusedError } from "../../../daemon/pg/install.ts";
import { DDL_TRIGGERS, INSTALL_VERSION } from "../../../daemon/pg/install_sql.ts";
import { assert, assertEquals, assertEventually, assertRejects } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { type PgCluster, startPostgres } from "../../support/postgres.ts";

Deno.test("vigil pg-install installs, then re-applies idempotently, and refuses a non-superuser", async () => {
  await using pg = await startPostgres();
  const first = await runVigil(["pg-install", "--dsn", pg.dsn()]);
  assertEquals([first.code, first.stderr], [0, ""]);
  assert(first.stdout.startsWith(`installed version ${INSTALL_VERSION} `), first.stdout);
  assert(first.stdout.includes("event trigger vigil_sql_drop ON sql_drop"), first.stdout);

  // What pgAudit logged of event triggers: a first install creates them and drops nothing (a
  // DROP … IF EXISTS would be logged, and detection takes a dropped event trigger for tampering).
  assertEquals(await triggerDdl(pg), ["CREATE EVENT TRIGGER", "CREATE EVENT TRIGGER"]);
  const oids = "SELECT string_agg(oid::text, ' ' ORDER BY evtname) FROM pg_event_trigger";
  const firstOids = await pg.sql(oids);
  const second = await runVigil(["pg-install", "--dsn", pg.dsn()]);
  assertEquals([second.code, second.stderr], [0, ""]);
  assertEquals(
    (await triggerDdl(pg)).length,
    2,
    "a re-run on an intact install logs no trigger DDL",
  );
  // An intact install is left alone: no event trigger dropped and created again (which pgAudit
  // would log and the detectors would rightly call tampering).
  assertEquals(await pg.sql(oids), firstOids);
  assert(second.stdout.startsWith(`re-applied version ${INSTALL_VERSION} `), second.stdout);
  const triggers =
    `SELECT string_agg(evtname || ':' || evtenabled::text || ':' || evtfoid::regproc::text, ' '
    ORDER BY evtname) FROM pg_event_trigger`;
  const intact =
    "vigil_ddl_command_end:O:vigil.emit_ddl_commands vigil_sql_drop:O:vigil.emit_dropped_objects";
  assertEquals(await pg.sql(triggers), intact);
  assertEquals(DDL_TRIGGERS.length, 2);
  assertEquals(
    await pg.sql("SELECT count(*) FROM pg_proc WHERE pronamespace = 'vigil'::regnamespace"),
    "3",
  );

  // An application role can call set_context without any grant of its own.
  await pg.sql("CREATE ROLE app LOGIN");
  assertEquals(
    await pg.sql(`SELECT vigil.set_context('{"user":"ada"}')`, "postgres", { user: "app" }),
    "",
  );
  const refusedContext = await pg.sql("SELECT vigil.set_context('[1]')").catch(String);
  assert(refusedContext.includes("takes a JSON object, not array"), refusedContext);

  // A disabled trigger is enabled again, not replaced.
  await pg.sql("ALTER EVENT TRIGGER vigil_ddl_command_end DISABLE");
  const reenabled = await runVigil(["pg-install", "--dsn", pg.dsn()]);
  assertEquals(reenabled.code, 0, reenabled.stderr);
  assertEquals(await pg.sql(oids), firstOids);
  assertEquals(await pg.sql(triggers), intact);

  // A non-superuser: refused, naming the missing attribute, with the install left as it was.
  await pg.sql("DROP EVENT TRIGGER vigil_sql_drop");
  const refused = await runVigil(["pg-install", "--dsn", pg.dsn("postgres", "app")]);
  assertEquals(refused.code, 3);
  assert(refused.stderr.includes(`role "app" is not a superuser`), refused.stderr);
  assert(refused.stderr.includes("create event triggers"), refused.stderr);
  assertEquals(await pg.sql("SELECT count(*) FROM pg_event_trigger"), "1");
  // A superuser's run puts the dropped trigger back.
  const repaired = await runVigil(["pg-install", "--dsn", pg.dsn()]);
  assertEquals(repaired.code, 0, repaired.stderr);
  assertEquals(await pg.sql("SELECT count(*) FROM pg_event_trigger"), "2");
});

/** The event trigger DDL commands pgAudit logged so far, in order (after a marker is logged). */
async function triggerDdl(pg: PgCluster): Promise<string[]> {
  const marker = `vigil-flush-${crypto.randomUUID()}`;
  await pg.sql(`SELECT '${marker}'`);
  const csv = (await pg.logFiles()).csvlog;
  const text = await assertEventually(async () => {
    const t = await Deno.readTextFile(csv);
    return t.includes(marker) ? t : undefined;
  }, { timeoutMs: 10_000, message: "the marker reached the csvlog" });
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
