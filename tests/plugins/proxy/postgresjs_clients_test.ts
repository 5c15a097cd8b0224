/**
 * postgres.js (the npm `postgres` package) through the proxy: tagged-template queries go as
 * named prepared statements with parameters, and the proxy stores each execution with its
 * statement text, its parameters as sent and its row count; a transaction (`sql.begin`) is
 * BEGIN, its statements and COMMIT; a failing query carries its SQLSTATE and parameters.
 */

import postgres from "postgres";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import {
  brief,
  ctx,
  duplicatePositions,
  sessionOf,
  settledEvents,
  startProxied,
  statementsOf,
} from "../../support/proxy_clients.ts";

Deno.test("proxy records postgres.js queries with their parameters", async () => {
  await using db = await startProxied("observe");
  const sql = postgres(db.dsn({ appName: "postgresjs-client" }), {
    max: 1,
    onnotice: () => {},
  });
  try {
    await sql`CREATE TABLE js_items (id int PRIMARY KEY, label text, seen timestamptz)`;
    const items: [number, string][] = [[1, "one"], [2, "two; DROP TABLE js_items"], [
      3,
      "🦕 three",
    ]];
    for (const [id, label] of items) {
      await sql`INSERT INTO js_items (id, label) VALUES (${id}, ${label})`;
    }
    const rows = await sql`SELECT id, label FROM js_items WHERE id >= ${2} ORDER BY id`;
    assertEquals(rows.map((r) => [r.id, r.label]), [[2, "two; DROP TABLE js_items"], [
      3,
      "🦕 three",
    ]]);
    await sql.begin(async (tx) => {
      await tx`UPDATE js_items SET label = ${"changed"} WHERE id = ${1}`;
    });
    await assertRejects(() => sql`INSERT INTO js_items (id, label) VALUES (${1}, ${"again"})`);
  } finally {
    await sql.end();
  }

  const events = await settledEvents(db.proxy, 1);
  assertEquals(duplicatePositions(events), [], "no source_pos stored twice");
  const statements = statementsOf(events, sessionOf(events, "postgresjs-client"));
  const all = JSON.stringify(statements.map(brief));
  const inserts = statements.filter((e) =>
    e.statement === "INSERT INTO js_items (id, label) VALUES ($1, $2)"
  );
  assertEquals(
    inserts.map((e) => [e.params, e.sqlstate ?? null]),
    [
      [["1", "one"], null],
      [["2", "two; DROP TABLE js_items"], null],
      [["3", "🦕 three"], null],
      [["1", "again"], "23505"],
    ],
    all,
  );
  assert(inserts.every((e) => ctx(e, "protocol") === "extended"), all);
  // postgres.js prepares each distinct query once under a name and executes it by that name.
  const names = new Set(inserts.map((e) => String(ctx(e, "statement_name") ?? "")));
  assertEquals(names.size, 1, all);
  assert(!names.has(""), `named statements: ${all}`);

  const select = statements.filter((e) => String(e.statement).startsWith("SELECT id, label"));
  assertEquals(select.map((e) => [e.params, ctx(e, "rows")]), [[["2"], 2]], all);

  const update = statements.findIndex((e) => String(e.statement).startsWith("UPDATE js_items"));
  assert(update > 0, all);
  assertEquals(
    statements.slice(update - 1, update + 2).map((e) => [e.command, e.params ?? []]),
    [["BEGIN", []], ["UPDATE", ["changed", "1"]], ["COMMIT", []]],
    all,
  );
});
