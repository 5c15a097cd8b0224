import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { NewEvent } from "../../../daemon/event/model.ts";
import { EventIndex, indexPath, IndexUnavailableError } from "../../../daemon/index/event_index.ts";
import { attachIndex } from "../../../daemon/index/feed.ts";
import { Store } from "../../../daemon/store/store.ts";
import { SCHEMA_VERSION, TALLY_BLOCK } from "../../../daemon/index/schema.ts";
import { selectEvents } from "../../../daemon/index/filter.ts";
import { spanStart, TEXT_SPAN } from "../../../daemon/index/text_spans.ts";
import { event, record, records, searched, seqs, T0, withIndex, withTempDir } from "./_events.ts";

Deno.test("EventIndex.open() creates an empty index and reopens it with its events", async () => {
  await withTempDir((dir) => {
    const path = dir + "/index.sqlite";
    const a = EventIndex.open(path);
    assert.equal(a.lastSeq(), -1);
    assert.equal(a.rebuilt, false);
    assert.equal(a.add(records([event(0), event(1), event(2)])), 3);
    assert.equal(a.lastSeq(), 2);
    a.close();
    a.close();
    const b = EventIndex.open(path);
    try {
      assert.equal(b.rebuilt, false);
      assert.equal(b.lastSeq(), 2);
      assert.equal(b.count({}), 3);
    } finally {
      b.close();
    }
  });
});

Deno.test("EventIndex holds no copy of an event: only seq, time, filter columns and trigrams", async () => {
  await withIndex((index, path) => {
    const evs = [
      event(0, {
        role: "alice",
        statement: "UPDATE t SET x = $1",
        params: ["a\ud800", null],
        new_row: { x: "1" },
        context: { who: "jo", why: ["audit"] },
        client_addr: "10.0.0.1",
        redacted: true,
      }),
      event(1, { kind: "system", parse_error: "bad line", raw: "\u0000garbage" }),
    ];
    index.add(records(evs));
    assert.deepEqual(index.seqs({}), [0, 1]);
    const raw = new DatabaseSync(path, { readOnly: true });
    try {
      const columns = raw.prepare("PRAGMA table_info(events)").all().map((r) => r.name);
      assert.deepEqual(columns, [
        "seq",
        "ts",
        "source",
        "kind",
        "db",
        "object",
        "role",
        "command_key",
      ]);
      const stored = JSON.stringify(raw.prepare("SELECT * FROM events").all()) +
        JSON.stringify(raw.prepare("SELECT * FROM events_text").all());
      for (const absent of ["10.0.0.1", "audit", "params", "new_row", "ingest_ts", "update t"]) {
        assert.ok(!stored.includes(absent), `${absent} is not in the index`);
      }
    } finally {
      raw.close();
    }
  });
});

Deno.test("EventIndex.untrusted() names the blocks whose rows were deleted or edited by hand", async () => {
  await withIndex((index, path) => {
    const B = TALLY_BLOCK;
    const n = 2 * B + 100;
    for (let at = 0; at < n; at += 5000) {
      index.add(records(Array.from({ length: Math.min(5000, n - at) }, (_, i) => event(at + i))));
    }
    assert.deepEqual(index.claims(), { first: 0, last: n - 1 });
    assert.deepEqual(index.untrusted(0, n), []);
    assert.equal(index.add(records([event(7), event(B + 3)])), 0, "a repeat is not counted");
    assert.deepEqual(index.untrusted(0, n), []);
    const raw = new DatabaseSync(path);
    try {
      raw.exec(`DELETE FROM events WHERE seq = ${B + 5}`);
      assert.deepEqual(index.untrusted(0, n), [[B, 2 * B]]);
      assert.deepEqual(index.untrusted(B + 10, B + 20), [[B + 10, B + 20]], "clipped");
      assert.deepEqual(index.untrusted(0, B), []);
      raw.exec(`UPDATE events SET role = 'mallory' WHERE seq = ${2 * B + 1}`);
      assert.deepEqual(index.untrusted(0, n), [[B, n]], "neighbours merge");
      raw.exec("UPDATE events SET ts = ts WHERE seq = 3");
      assert.deepEqual(index.untrusted(0, n), [[0, n]]);
      raw.exec(`DELETE FROM tally`);
      assert.deepEqual(index.untrusted(0, n), [[0, n]], "a missing tally vouches for nothing");
    } finally {
      raw.close();
    }
    index.reset();
    assert.equal(index.claims(), null);
    index.add(records([event(40_000), event(40_001)]));
    assert.deepEqual(index.claims(), { first: 40_000, last: 40_001 });
    assert.deepEqual(index.untrusted(0, 50_000), []);
  });
});

Deno.test("EventIndex.add() skips seqs it already holds, so re-feeding is harmless", async () => {
  await withIndex((index) => {
    const evs = Array.from({ length: 10 }, (_, i) => event(i, { statement: `select ${i}` }));
    assert.equal(index.add(records(evs.slice(0, 6))), 6);
    assert.equal(index.add(records(evs.slice(3, 10))), 4);
    assert.equal(index.add(records(evs)), 0);
    assert.equal(index.add(records([evs[2]!, evs[2]!])), 0);
    assert.equal(index.add([]), 0);
    assert.equal(index.count({}), 10);
    assert.deepEqual(index.seqs({ text: "select" }), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const later = [event(12, { statement: "select 12" }), event(12), event(11)];
    assert.equal(index.add(records(later)), 2, "a repeat inside one batch counts once");
    // Text nominates by span (`text_spans.ts`): 11 shares a span block with 8 and 9, whose row
    // holds "select"; the log decides.
    assert.deepEqual(index.seqs({ text: "select", afterSeq: 9 }), [11, 12]);
    assert.equal(index.count({ text: "select" }), 12, "an upper bound with text");
    assert.equal(index.count({}), 12);
  });
});

Deno.test("EventIndex.add() is all or nothing and names the batch on failure", async () => {
  await withIndex((index) => {
    const bad = record(event(2));
    bad.seq = 3;
    assert.throws(() => index.add([record(event(0)), record(event(1)), bad]), {
      message: /Cannot add events 0\.\.3 to search index .*: record seq 3 carries .* seq 2/,
    });
    assert.equal(index.lastSeq(), -1);
    assert.equal(index.add(records([event(0), event(1)])), 2);
  });
});

Deno.test("EventIndex.seqs() applies every filter as selectEvents() does", async () => {
  await withIndex((index) => {
    const evs = [
      event(0, { role: "alice", command: "SELECT", statement: "SELECT * FROM Invoices" }),
      event(1, { role: "bob", command: "DROP TABLE", kind: "ddl", statement: "DROP TABLE x" }),
      event(2, { role: "alice", command: "select", db: "hr", object: "public.staff" }),
      event(3, { source: "app", kind: "app", error: "Permission DENIED for id" }),
      event(4, { role: "alice", statement: "select id from t where id = 'x\0y'" }),
    ];
    index.add(records(evs));
    const filters = [
      { role: "alice" },
      { command: "select" },
      { command: "Drop Table", kind: "ddl" as const },
      { db: "hr", object: "public.staff" },
      { source: "app" },
      { from: T0 + 1_000_000, to: T0 + 3_000_000 },
      { text: "invoices from" },
      { text: "id" },
      { text: "denied ID" },
      { text: "x\0y" },
      { text: "\0" },
      { text: "select", role: "alice", order: "desc" as const, limit: 1 },
      { afterSeq: 1, beforeSeq: 4 },
    ];
    for (const f of filters) {
      const want = seqs(selectEvents(evs, f));
      assert.deepEqual(searched(index, evs, f), want, JSON.stringify(f));
      if (!("text" in f)) assert.deepEqual(index.seqs(f), want, JSON.stringify(f));
    }
    assert.deepEqual(index.seqs({ role: "alice" }), [0, 2, 4]);
    assert.deepEqual(index.seqs({ command: "SELECT" }), [0, 2]);
    assert.deepEqual(searched(index, evs, { text: "id" }), [3, 4]);
    // The index holds trigrams, not text, a row per span of neighbouring seqs: it nominates
    // every event of a span whose texts hold the trigrams, and the events decide.
    assert.deepEqual(index.seqs({ text: "invoices from" }), [0, 1, 2, 3, 4]);
    assert.deepEqual(searched(index, evs, { text: "invoices from" }), [0]);
    assert.deepEqual(index.seqs({ text: "id" }), [0, 1, 2, 3, 4], "too short: everything");
  });
});

Deno.test("EventIndex.seqs() orders by seq and limits; count() ignores the limit", async () => {
  await withIndex((index) => {
    index.add(records([5, 1, 3, 2, 4].map((s) => event(s, { role: "r" }))));
    assert.deepEqual(index.seqs({}), [1, 2, 3, 4, 5]);
    assert.deepEqual(index.seqs({ order: "desc" }), [5, 4, 3, 2, 1]);
    assert.deepEqual(index.seqs({ order: "desc", limit: 2 }), [5, 4]);
    assert.deepEqual(index.seqs({ limit: 2, afterSeq: 2 }), [3, 4]);
    assert.deepEqual(index.seqs({ limit: 0 }), []);
    assert.equal(index.count({ limit: 2, role: "r" }), 5);
    const it = index.iterateSeqs({ order: "desc" });
    assert.equal(it.next().value, 5);
    it.return();
    assert.equal(index.lastSeq(), 5, "the index stays usable after an abandoned iteration");
  });
});

const HOSTILE = [
  '"',
  '""',
  'a"b',
  "NEAR(",
  "NEAR(a b)",
  "NEAR",
  "*",
  "ab*",
  "-",
  "-abc",
  "abc OR def",
  "AND",
  "NOT abc",
  "body:abc",
  "{body}:abc",
  "^abc",
  "(",
  ")",
  "+",
  ":",
  "'",
  "';DROP TABLE events;--",
  "É",
  "ÉTÉ",
  "ß",
  "😀",
  "😀x",
  "İstanbul",
  "\u0000",
  "ab\u0000cd",
  "a\ud800b",
  "x".repeat(5000),
];

Deno.test("EventIndex.seqs() takes FTS5 syntax in text literally and never fails", async () => {
  await withIndex((index) => {
    const evs = HOSTILE.map((s, i) => event(i, { statement: `select '${s}' as v` }));
    evs.push(event(evs.length, { statement: "été à İSTANBUL with abc def" }));
    index.add(records(evs));
    for (const text of HOSTILE) {
      const got = searched(index, evs, { text });
      assert.deepEqual(got, seqs(selectEvents(evs, { text })), `text ${JSON.stringify(text)}`);
      assert.ok(index.count({ text }) >= got.length);
    }
    assert.deepEqual(searched(index, evs, { text: "NEAR(a b)" }), [4]);
    assert.deepEqual(searched(index, evs, { text: "été" }), [23, 32]);
    assert.deepEqual(searched(index, evs, { text: "İstanbul" }), [27, 32]);
    // Nominated by span (`text_spans.ts`): every seq of the block of 23, of 27, and 32, the last.
    const block = (seq: number) =>
      Array.from({ length: TEXT_SPAN }, (_, i) => spanStart(seq) + i).filter((s) => s < 32);
    assert.deepEqual(index.seqs({ text: "été" }), [...block(23), 32]);
    assert.deepEqual(index.seqs({ text: "İstanbul" }), [...block(27), 32]);
    assert.equal(index.count({}), evs.length, "the events table survived its hostile rows");
    const widest = Array.from({ length: 64 }, (_, i) => `${"x".repeat(40)}"${i}`).join(" ");
    assert.deepEqual(index.seqs({ text: widest }), [], "64 long tokens fit in one statement");
  });
});

Deno.test("EventIndex.open() rebuilds an index of another schema version", async () => {
  await withTempDir((dir) => {
    const path = dir + "/index.sqlite";
    const a = EventIndex.open(path);
    a.add(records([event(0, { statement: "select 1" })]));
    a.close();
    const raw = new DatabaseSync(path);
    raw.exec("UPDATE meta SET value = '0' WHERE key = 'schema_version'");
    raw.close();
    assert.throws(() => EventIndex.open(path, { readonly: true }), (e: unknown) => {
      assert.ok(e instanceof IndexUnavailableError);
      assert.equal(e.reason, "version");
      assert.match(e.message, new RegExp(`schema version 0, this build reads ${SCHEMA_VERSION}`));
      return true;
    });
    const b = EventIndex.open(path);
    try {
      assert.equal(b.rebuilt, true);
      assert.equal(b.lastSeq(), -1);
      assert.equal(b.add(records([event(0, { statement: "select 1" })])), 1);
      assert.deepEqual(b.seqs({ text: "select" }), [0]);
    } finally {
      b.close();
    }
  });
});

Deno.test("EventIndex.open() read-only needs an existing index and refuses writes", async () => {
  await withTempDir((dir) => {
    const path = dir + "/index.sqlite";
    assert.throws(
      () => EventIndex.open(path, { readonly: true }),
      (e: unknown) => e instanceof IndexUnavailableError && e.reason === "missing",
    );
    EventIndex.open(path).close();
    const r = EventIndex.open(path, { readonly: true });
    try {
      assert.equal(r.lastSeq(), -1);
      assert.throws(() => r.add([record(event(0))]), /Cannot add to search index .* read-only/);
      assert.throws(() => r.reset(), /read-only/);
    } finally {
      r.close();
    }
  });
});

Deno.test("EventIndex.reset() drops every event and indexes again afterwards", async () => {
  await withIndex((index) => {
    index.add(records([event(0, { statement: "select a" }), event(1)]));
    index.reset();
    assert.equal(index.lastSeq(), -1);
    assert.deepEqual(index.seqs({ text: "select" }), []);
    const b = [event(0, { statement: "select b" })];
    index.add(records(b));
    assert.deepEqual(searched(index, b, { text: "select b" }), [0]);
    assert.deepEqual(searched(index, b, { text: "select a" }), []);
    assert.deepEqual(index.seqs({ text: "elect" }), [0]);
    assert.deepEqual(index.seqs({ text: "elect a" }), [0], "a: too short for a trigram");
  });
});

Deno.test("EventIndex links row changes to their statement and the statement to its pgAudit line, across re-opens", async () => {
  await withTempDir((dir) => {
    const path = dir + "/index.sqlite";
    const T = 1_800_000_000_000_000;
    const line = {
      ts: T,
      source: "log",
      kind: "session" as const,
      db: "shop",
      audit_type: "SESSION",
      class: "WRITE",
      command: "UPDATE",
      session_id: "a.1",
      params: ["7"],
    };
    const row = { ts: T + 500, source: "wal", kind: "row_change" as const, db: "shop", xid: 9 };
    const stmt = {
      ts: T + 500,
      source: "wal",
      kind: "message" as const,
      command: "STATEMENT",
      db: "shop",
      xid: 9,
      object: "public.t",
      session_id: "a.1",
      context: { op: "UPDATE", stmt_ts: "2027-01-15T08:00:00.000000Z" },
    };
    const a = EventIndex.open(path);
    // The line and the first row in one batch, the rest in another: the join's pending state
    // is kept in the index between them.
    a.add(records([event(0, line), event(1, { ...row, object: "public.t" })]));
    a.close();
    const b = EventIndex.open(path);
    try {
      b.add(records([event(2, { ...row, object: "public.t" }), event(3, stmt)]));
      assert.deepEqual(b.attribution(1), { statement: 3, line: 0 });
      assert.deepEqual(b.attribution(3), { line: 0, rows: [1, 2] });
      assert.deepEqual(b.attribution(0), {});
      b.reset();
      b.add(records([0, 1, 2, 3].map((i) =>
        event(
          i,
          [line, { ...row, object: "public.t" }, {
            ...row,
            object: "public.t",
          }, stmt][i]!,
        )
      )));
      assert.deepEqual(b.attribution(3), { line: 0, rows: [1, 2] });
    } finally {
      b.close();
    }
  });
});

Deno.test("the feeder feeds the attribution join again from its last saved state after a crash", async () => {
  await withTempDir(async (dir) => {
    const T = 1_800_000_000_000_000;
    const line: NewEvent = {
      ts: T,
      source: "log",
      kind: "session",
      db: "shop",
      audit_type: "SESSION",
      class: "WRITE",
      command: "UPDATE",
      session_id: "a.1",
    };
    const row: NewEvent = {
      ts: T + 500,
      source: "wal",
      kind: "row_change",
      db: "shop",
      xid: 9,
      object: "public.t",
    };
    const stmt: NewEvent = {
      ...row,
      kind: "message",
      command: "STATEMENT",
      session_id: "a.1",
      client_addr: "10.0.0.9",
      context: { op: "UPDATE", stmt_ts: "2027-01-15T08:00:00.000000Z" },
    };
    const store = await Store.open(dir, { checkpointIntervalMs: 0, hashWorker: false });
    try {
      await store.append({ source: "t", events: [line, row] });
      await (await attachIndex(store)).close();
      // A crash loses the join's state, which is saved now and then, not with every batch.
      const raw = new DatabaseSync(indexPath(dir));
      raw.exec("DELETE FROM meta WHERE key LIKE 'attribution%'");
      raw.close();
      await store.append({ source: "t", events: [row, stmt] });
      const feed = await attachIndex(store);
      await feed.drain();
      await feed.close();
    } finally {
      await store.close();
    }
    const index = EventIndex.open(indexPath(dir), { readonly: true });
    try {
      assert.deepEqual(index.attribution(1), { statement: 3, line: 0 });
      assert.deepEqual(index.attribution(3), { line: 0, rows: [1, 2] });
      assert.deepEqual(index.seqs({ client_addr: "10.0.0.9", kind: "row_change" }), [1, 2]);
    } finally {
      index.close();
    }
  });
});

Deno.test("EventIndex finds events by pgAudit's row count (minRows) as the log scan does", async () => {
  await withIndex((index) => {
    const evs = [0, 1, 2, 3, 4].map((i) =>
      event(i, i === 4 ? {} : { class: "READ", command: "SELECT", rows: [5, 100, 250, 99][i]! })
    );
    index.add(records(evs));
    for (const minRows of [0, 99, 100, 251]) {
      const want = selectEvents(evs, { minRows }).map((e) => e.seq);
      assert.deepEqual(index.seqs({ minRows }), want, `minRows ${minRows}`);
    }
    assert.deepEqual(index.seqs({ minRows: 100 }), [1, 2]);
  });
});
