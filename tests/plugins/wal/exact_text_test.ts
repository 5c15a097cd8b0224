/**
 * What the WAL source stores is the database's own text, whatever the server's defaults say,
 * and what it cannot read it still files under its table: against a real PostgreSQL 15,
 * `regclass`, `regproc`, `regtype` and `money` values print the same when the role's defaults
 * change `search_path`, `quote_all_identifiers` and `lc_monetary`; a row that is not UTF-8 (a
 * SQL_ASCII database) is a `row_change` of its table and command, with its bytes in `raw`; and a
 * `vigil.set_context()` number past 2^53 is kept exact.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import { connect } from "../../../daemon/pgwire/mod.ts";
import { connectReplication } from "../../../plugins/wal/replication.ts";
import { walSource } from "../../../plugins/wal/mod.ts";
import { assert, assertEquals, assertEventually, assertMatch } from "../../support/assert.ts";
import { type PgCluster, startPostgres } from "../../support/postgres.ts";
import { confirmedFlush, MemoryStore, startRun } from "./_source_harness.ts";

/** Runs a WAL source on `db` until `done`, after `workload` ran; returns what it stored. */
async function collect(
  pg: PgCluster,
  db: string,
  workload: string,
  done: (events: NewEvent[]) => boolean,
): Promise<NewEvent[]> {
  const slot = `vigil_exact_${db}`;
  const mem = new MemoryStore();
  const source = walSource({ dsn: pg.dsn(db), slot, publication: slot, configCheckIntervalMs: 0 });
  const run = startRun(source, (signal) => mem.context("exact", signal));
  try {
    await assertEventually(async () => {
      if (run.result() !== undefined) throw run.result();
      return (await confirmedFlush(pg, slot)) !== undefined;
    }, { message: `the slot in ${db} made` });
    await pg.sql(workload, db);
    await assertEventually(() => {
      if (run.result() !== undefined) throw run.result();
      return done(mem.events);
    }, { timeoutMs: 30_000, message: "stored" });
  } finally {
    await run.stop();
  }
  return mem.events;
}

Deno.test("WAL source: reg* and money text does not follow the role's search_path, quoting or lc_monetary", async () => {
  await using pg = await startPostgres();
  await pg.sql(
    `CREATE SCHEMA sales;
     CREATE TABLE sales.orders (id int PRIMARY KEY);
     CREATE TABLE refs (id int PRIMARY KEY, rel regclass, fn regproc, ty regtype, amount money);
     ALTER ROLE postgres SET search_path = sales, public;
     ALTER ROLE postgres SET quote_all_identifiers = on;
     ALTER ROLE postgres SET lc_monetary = 'C.utf8';`,
  );
  const events = await collect(
    pg,
    "postgres",
    `INSERT INTO public.refs VALUES (1, 'sales.orders', 'pg_catalog.now', 'int4', 1234.5);
     BEGIN;
     SELECT pg_logical_emit_message(true, 'vigil.context',
       '{"user": "ada", "order": 12345678901234567890, "share": 0.1}');
     INSERT INTO public.refs VALUES (2, 'public.refs', 'pg_catalog.pg_backend_pid', 'text', 0);
     COMMIT;`,
    (evs) => evs.filter((e) => e.command === "INSERT").length >= 2,
  );
  const rows = events.filter((e) => e.command === "INSERT").map((e) => e.new_row);
  assertEquals(rows, [
    { id: "1", rel: "sales.orders", fn: "now", ty: "integer", amount: "$1,234.50" },
    { id: "2", rel: "public.refs", fn: "pg_backend_pid", ty: "text", amount: "$0.00" },
  ]);
  const second = events.find((e) => e.command === "INSERT" && e.new_row?.id === "2");
  assertEquals(second?.context, { user: "ada", order: "12345678901234567890", share: 0.1 });

  // The settings themselves, on the connections the source opens.
  const sql = await connect(pg.dsn());
  try {
    const shown = await sql.query(
      "SELECT current_setting('lc_monetary'), " +
        "current_setting('quote_all_identifiers'), current_setting('search_path')",
    );
    assertEquals(shown.rows, [["C", "off", "sales, public"]], "plain SQL keeps its search_path");
  } finally {
    await sql.close();
  }
  await using repl = await connectReplication(pg.dsn());
  const path = await repl.connection.query("SELECT current_setting('search_path')");
  assertEquals(path.rows, [["pg_catalog"]]);
});

Deno.test("WAL source: a row that is not UTF-8 is a row_change of its table, kept raw", async () => {
  await using pg = await startPostgres();
  await pg.sql(
    "CREATE DATABASE rawdb ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
  );
  await pg.sql("CREATE TABLE notes (id int PRIMARY KEY, note text)", "rawdb");
  const events = await collect(
    pg,
    "rawdb",
    `INSERT INTO notes VALUES (1, 'fine');
     INSERT INTO notes VALUES (2, E'caf\\351 au lait');
     UPDATE notes SET note = E'\\377' WHERE id = 1;
     INSERT INTO notes VALUES (3, 'after');`,
    (evs) => evs.some((e) => e.new_row?.id === "3"),
  );
  const changes = events.filter((e) => e.kind === "row_change");
  assertEquals(
    changes.map((e) => [e.object, e.command]),
    [
      ["public.notes", "INSERT"],
      ["public.notes", "INSERT"],
      ["public.notes", "UPDATE"],
      ["public.notes", "INSERT"],
    ],
  );
  assertEquals(events.filter((e) => e.kind === "system"), [], "no system stand-ins");
  const [, bad, badUpdate] = changes;
  for (const ev of [bad!, badUpdate!]) {
    assertEquals([ev.schema, ev.object_type, ev.new_row], ["public", "TABLE", undefined]);
    assertMatch(ev.parse_error ?? "", /not UTF-8/);
    assertMatch(ev.raw ?? "", /^\\x[0-9a-f]+$/);
  }
  assert(
    bad!.raw!.includes(
      Array.from(new TextEncoder().encode("caf")).map((b) => b.toString(16)).join("") + "e9",
    ),
  );
});
