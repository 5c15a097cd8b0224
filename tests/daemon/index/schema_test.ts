import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { openIndexDb } from "../../../daemon/index/index_db.ts";
import { endBulkFill, startBulkFill } from "../../../daemon/index/schema.ts";
import { withTempDir } from "./_events.ts";

/** The full-text table's merge settings as stored, `undefined` where it keeps FTS5's default. */
function ftsSettings(db: DatabaseSync): Record<string, number | undefined> {
  const rows = db.prepare(
    `SELECT k, v FROM events_text_config WHERE k IN ('automerge', 'crisismerge')`,
  ).all();
  const of = (k: string) => rows.find((r) => r.k === k)?.v as number | undefined;
  return { automerge: of("automerge"), crisismerge: of("crisismerge") };
}

/** Writes `n` transactions of one full-text row each, rowids from `first`. */
function textTransactions(db: DatabaseSync, first: number, n: number): void {
  const insert = db.prepare(`INSERT INTO events_text (rowid, body) VALUES (?, ?)`);
  for (let i = 0; i < n; i++) {
    db.exec("BEGIN IMMEDIATE");
    insert.run(first + i, `select * from accounts where id = ${first + i} -- sess${i % 7}`);
    db.exec("COMMIT");
  }
}

function matches(db: DatabaseSync, trigram: string): number[] {
  return db.prepare(`SELECT rowid FROM events_text WHERE events_text MATCH ? ORDER BY rowid`)
    .all(`"${trigram}"`).map((r) => Number(r.rowid));
}

function dataRows(db: DatabaseSync): number {
  return Number(db.prepare(`SELECT count(*) AS n FROM events_text_data`).get()!.n);
}

Deno.test("a bulk fill keeps each transaction's text segment until its end, then merges once", async () => {
  await withTempDir((dir) => {
    const { db } = openIndexDb(dir + "/index.sqlite");
    try {
      // 40 transactions: past FTS5's default crisis merge of 16 segments a level, which the
      // daemon's own writes keep.
      textTransactions(db, 1, 40);
      const merged = dataRows(db);
      db.exec("BEGIN IMMEDIATE");
      startBulkFill(db);
      db.exec("COMMIT");
      assert.deepEqual(ftsSettings(db), { automerge: 0, crisismerge: 1000 });
      textTransactions(db, 101, 40);
      assert.ok(
        dataRows(db) - merged > merged,
        `the fill's 40 segments stay apart: ${dataRows(db) - merged} rows against ${merged}`,
      );
      const before = matches(db, "ss3");
      assert.equal(before.length, 12);
      db.exec("BEGIN IMMEDIATE");
      endBulkFill(db);
      db.exec("COMMIT");
      assert.deepEqual(ftsSettings(db), { automerge: 4, crisismerge: 16 });
      assert.deepEqual(matches(db, "ss3"), before);
      assert.ok(dataRows(db) < merged, "merged into one segment");
    } finally {
      db.close();
    }
  });
});

Deno.test("a writer opening an index whose bulk fill was cut short restores its merge settings", async () => {
  await withTempDir((dir) => {
    const path = dir + "/index.sqlite";
    const first = openIndexDb(path).db;
    try {
      first.exec("BEGIN IMMEDIATE");
      startBulkFill(first);
      first.exec("COMMIT");
      textTransactions(first, 1, 20);
    } finally {
      first.close();
    }
    const { db } = openIndexDb(path);
    try {
      assert.deepEqual(ftsSettings(db), { automerge: 4, crisismerge: 16 });
      assert.equal(matches(db, "ss3").length, 3);
      const names = db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'index'`).all()
        .map((r) => r.name);
      assert.ok(names.includes("events_role"), "secondary indexes made again");
    } finally {
      db.close();
    }
  });
});
