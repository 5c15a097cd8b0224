/**
 * The PostgreSQL side of WAL collection end to end: `installPgSide()` (what `vigil pg-install`
 * runs) installs twice without harm, and then, with the WAL source running, DDL by any role
 * arrives as `ddl` events with command, object, role and statement, and `vigil.set_context()`
 * gives the row changes of its transaction their context and app_user.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import { installPgSide } from "../../../daemon/pg/install.ts";
import { walSource } from "../../../plugins/wal/mod.ts";
import { assertEquals, assertEventually } from "../../support/assert.ts";
import { startPostgres } from "../../support/postgres.ts";
import { confirmedFlush, MemoryStore, startRun } from "./_source_harness.ts";

const SLOT = "vigil_ddl";

/** What a test compares of a ddl event. */
function ddl(ev: NewEvent): string[] {
  return [ev.command ?? "", ev.object_type ?? "", ev.object ?? "", ev.role ?? ""];
}

Deno.test("pg-install's triggers and set_context() reach the WAL source as ddl events and context", async () => {
  await using pg = await startPostgres();
  assertEquals((await installPgSide(pg.dsn())).action, "installed");
  const again = await installPgSide(pg.dsn());
  assertEquals([again.action, again.previousVersion], ["reapplied", again.version]);
  await pg.sql("CREATE ROLE alice LOGIN; GRANT CREATE ON SCHEMA public TO alice");

  const mem = new MemoryStore();
  const source = walSource({ dsn: pg.dsn(), slot: SLOT, publication: SLOT });
  const run = startRun(source, (signal) => mem.context("billing", signal));
  try {
    await assertEventually(async () => (await confirmedFlush(pg, SLOT)) !== undefined);
    const create = "CREATE TABLE acct (id int PRIMARY KEY, balance numeric)";
    const alter = "ALTER TABLE acct ADD COLUMN note text";
    await pg.sql(`${create};\n${alter};`, "postgres", { user: "alice" });
    await pg.sql(
      `INSERT INTO acct VALUES (1, 10);
       BEGIN;
       SELECT vigil.set_context('{"user":"ada","reason":"refund"}');
       UPDATE acct SET balance = 5 WHERE id = 1;
       COMMIT;
       BEGIN; CREATE TABLE gone (id int); ROLLBACK;
       DROP TABLE acct;`,
    );
    await assertEventually(() => mem.events.some((e) => e.command === "DROP TABLE"), {
      message: "the DROP TABLE stored",
    });
    const ddls = mem.events.filter((e) => e.kind === "ddl");
    assertEquals(ddls.map(ddl), [
      // The statement trigger pg-install's event trigger puts on the new table, ALWAYS: DDL
      // run inside the CREATE, so recorded before it.
      ["CREATE TRIGGER", "TRIGGER", "vigil_stmt on public.acct", "alice"],
      ["ALTER TABLE", "TABLE", "public.acct", "alice"],
      ["CREATE TABLE", "TABLE", "public.acct", "alice"],
      ["CREATE INDEX", "INDEX", "public.acct_pkey", "alice"],
      ["ALTER TABLE", "TABLE", "public.acct", "alice"],
      ["DROP TABLE", "TABLE", "public.acct", "postgres"], // Not its row type, TOAST or index.
    ]);
    const [, , created, , altered, dropped] = ddls;
    assertEquals(created!.statement?.replace(/;$/, ""), create);
    assertEquals(altered!.statement?.replace(/;$/, ""), alter);
    assertEquals(dropped!.statement?.trim().replace(/;$/, ""), "DROP TABLE acct");
    for (const ev of ddls) {
      // A trigger has no schema of its own in pg_event_trigger_ddl_commands().
      const schema = ev.command === "CREATE TRIGGER" ? undefined : "public";
      assertEquals([ev.schema, ev.db, ev.parse_error], [schema, "postgres", undefined]);
    }
    // A transaction's DDL events share its xid; a rolled-back DDL left nothing.
    assertEquals(ddls[0]!.xid, ddls[1]!.xid);
    assertEquals(mem.events.some((e) => e.object === "public.gone"), false);

    const update = mem.events.find((e) => e.command === "UPDATE")!;
    assertEquals(update.context, { user: "ada", reason: "refund" });
    assertEquals(update.app_user, "ada");
    const context = mem.events.find((e) => e.command === "vigil.context")!;
    assertEquals([context.kind, context.xid, context.app_user], ["message", update.xid, "ada"]);
    const insert = mem.events.find((e) => e.command === "INSERT")!;
    assertEquals([insert.context, insert.app_user], [undefined, undefined]);
    assertEquals(mem.events.filter((e) => e.kind === "system"), [], "no alarm on the way");
  } finally {
    await run.stop();
  }
  assertEquals(run.result(), "ok");
});
