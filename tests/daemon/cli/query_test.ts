/**
 * `vigil query` against a real store: it streams every match unless `--limit` is given, and what
 * it prints comes from the log, so a search index edited or thinned out by hand can neither change
 * an event nor hide one.
 */

import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { eventLines, runVigil } from "../../support/cli.ts";
import { withTempDir } from "../../support/store.ts";

/** The JSON lines a query printed. */
async function query(dir: string, args: string[]): Promise<Record<string, unknown>[]> {
  const r = await runVigil(["query", "--data", dir, ...args]);
  assertEquals(r.code, 0, r.stderr);
  return r.stdout.trim() ? r.stdout.trim().split("\n").map((l) => JSON.parse(l)) : [];
}

/** Runs SQL on the index as someone with a shell on the box would. */
function editIndex(dir: string, edit: (db: DatabaseSync, columns: Set<string>) => void): void {
  const db = new DatabaseSync(`${dir}/index.sqlite`);
  try {
    const columns = new Set(
      db.prepare("PRAGMA table_info(events)").all().map((r) => String(r.name)),
    );
    edit(db, columns);
  } finally {
    db.close();
  }
}

Deno.test("vigil query shows the log's event, not an index row edited by hand", async () => {
  await withTempDir(async (dir) => {
    const ingest = await runVigil(["ingest", "--data", dir, "--source", "app"], {
      stdin: eventLines(30),
    });
    assertEquals(ingest.code, 0, ingest.stderr);
    const before = await query(dir, ["--role", "bob"]);
    const original = before.find((e) => e.seq === 7)!;
    assertEquals(original.role, "bob");
    editIndex(dir, (db, columns) => {
      const forged = { ...original, role: "mallory", statement: "SELECT 'nothing happened'" };
      // Whatever the layout holds of the event is rewritten: its filter columns, its searchable
      // text, and a copy of the whole event where there is one.
      const sets = ["role = ?"], values = ["mallory"];
      if (columns.has("body")) sets.push("body = ?"), values.push("select 'nothing happened'");
      if (columns.has("json")) sets.push("json = ?"), values.push(JSON.stringify(forged));
      db.prepare(`UPDATE events SET ${sets.join(", ")} WHERE seq = 7`).run(...values);
    });
    assertEquals(await query(dir, ["--role", "mallory"]), [], "the forged role matches nothing");
    assertEquals(await query(dir, ["--text", "nothing happened"]), []);
    const after = await query(dir, ["--role", "bob"]);
    assertEquals(after, before, "the edited row still answers as the log says");
    assertEquals(await query(dir, ["--role", "bob", "--text", "id = 7", "--order", "desc"]), [
      original,
    ]);
  });
});

Deno.test("vigil query returns an event whose index row was deleted by hand", async () => {
  await withTempDir(async (dir) => {
    await runVigil(["ingest", "--data", dir, "--source", "app"], { stdin: eventLines(30) });
    const before = await query(dir, ["--role", "carol"]);
    assertEquals(before.map((e) => e.seq), [2, 5, 8, 11, 14, 17, 20, 23, 26, 29]);
    editIndex(dir, (db) => db.exec("DELETE FROM events WHERE seq IN (8, 29)"));
    assertEquals(await query(dir, ["--role", "carol"]), before);
    assertEquals(
      (await query(dir, ["--role", "carol", "--order", "desc", "--limit", "3"])).map((e) => e.seq),
      [29, 26, 23],
    );
    assertEquals((await query(dir, ["--role", "carol", "--text", "id = 8"])).map((e) => e.seq), [
      8,
    ]);
  });
});

Deno.test("vigil query returns all of 20,000 matches without --limit; a table says when it is cut", async () => {
  await withTempDir(async (dir) => {
    const ingest = await runVigil(["ingest", "--data", dir, "--source", "app"], {
      stdin: eventLines(20_000),
    });
    assertEquals(ingest.code, 0, ingest.stderr);
    const all = await runVigil(["query", "--data", dir, "--source", "app"]);
    assertEquals(all.code, 0, all.stderr);
    const lines = all.stdout.trimEnd().split("\n");
    assertEquals(lines.length, 20_000);
    lines.forEach((l, i) => assertEquals(JSON.parse(l).seq, i));
    const desc = await query(dir, ["--role", "alice", "--order", "desc"]);
    assertEquals(desc.length, 6667);
    assertEquals([desc[0]!.seq, desc.at(-1)!.seq], [19_998, 0]);
    const limited = await query(dir, ["--source", "app", "--limit", "2500"]);
    assertEquals(limited.length, 2500);

    const table = await runVigil(["query", "--data", dir, "--format", "table"]);
    assertEquals(table.code, 0, table.stderr);
    assertMatch(table.stdout, /\(1000 events\)\n$/);
    assertMatch(table.stderr, /first 1000 .*--limit/);
    const full = await runVigil(["query", "--data", dir, "--format", "table", "--limit", "5000"]);
    assertMatch(full.stdout, /\(5000 events\)\n$/);
    assert(!/first \d+/.test(full.stderr), full.stderr);
  });
});
