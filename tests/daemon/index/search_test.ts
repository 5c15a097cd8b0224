/**
 * searchLog() and countMatches() over a real store and index: the answer is what the in-memory
 * matcher selects from the log, whether the index is caught up, behind, missing, thinned out by
 * hand, or forged tally and all — only how much of the log is read changes.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { AuditEvent, NewEvent } from "../../../daemon/event/model.ts";
import { EventIndex, indexPath } from "../../../daemon/index/event_index.ts";
import { attachIndex } from "../../../daemon/index/feed.ts";
import { type EventFilter, selectEvents } from "../../../daemon/index/filter.ts";
import {
  countMatches,
  searchLog,
  type SearchStats,
  seqsNeeded,
} from "../../../daemon/index/search.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { SeqReader } from "../../../daemon/store/seq_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { withTempDir } from "../../support/store.ts";

const T0 = 1_750_000_000_000_000;

function newEvent(i: number): NewEvent {
  return {
    ts: T0 + i * 1_000_000,
    source: i % 7 === 0 ? "wal" : "pgaudit",
    kind: i % 5 === 0 ? "row_change" : "session",
    role: ["alice", "bob", "carol"][i % 3]!,
    object: `public.t${i % 4}`,
    command: i % 2 ? "SELECT" : "UPDATE",
    statement: `SELECT ${i % 10} FROM public.t${i % 4} WHERE note = 'n${i % 13}'`,
  };
}

/** A store of `n` events, the first `indexed` of them in the index. */
async function world(dir: string, n: number, indexed: number): Promise<AuditEvent[]> {
  const store = await Store.open(dir, { checkpointIntervalMs: 0, hashWorker: false });
  try {
    const events = Array.from({ length: n }, (_, i) => newEvent(i));
    await store.append({ source: "test", events: events.slice(0, indexed) });
    const feed = await attachIndex(store);
    await feed.close();
    if (indexed < n) await store.append({ source: "test", events: events.slice(indexed) });
  } finally {
    await store.close();
  }
  const out: AuditEvent[] = [];
  for await (const r of readLog(dir)) out.push(r.event);
  return out;
}

async function search(
  dir: string,
  filter: EventFilter,
  opts: { index?: boolean; page?: number } = {},
): Promise<{ seqs: number[]; stats: SearchStats }> {
  const index = opts.index === false ? null : EventIndex.open(indexPath(dir), { readonly: true });
  try {
    const reader = await SeqReader.open(dir);
    const stats = { scanned: 0, dropped: 0 };
    const seqs: number[] = [];
    const searchOpts = opts.page === undefined ? {} : { page: opts.page };
    for await (const batch of searchLog({ index, reader }, filter, searchOpts, stats)) {
      assert.ok(batch.length > 0, "no empty batches");
      for (const r of batch) seqs.push(r.seq);
    }
    return { seqs, stats };
  } finally {
    index?.close();
  }
}

const FILTERS: EventFilter[] = [
  {},
  { role: "bob" },
  { role: "bob", order: "desc", limit: 7 },
  { kind: "row_change", command: "update" },
  { text: "t3 n5", order: "desc" },
  { source: "wal", from: T0 + 100_000_000, to: T0 + 900_000_000, limit: 20 },
  { object: "public.t1", afterSeq: 300, beforeSeq: 800, order: "desc" },
  { role: "nobody" },
];

Deno.test("searchLog() answers as selectEvents() over the log, index caught up, behind or absent", async () => {
  await withTempDir(async (dir) => {
    const events = await world(dir, 1200, 900);
    for (const f of FILTERS) {
      const want = selectEvents(events, f).map((e) => e.seq);
      const where = JSON.stringify(f);
      const behind = await search(dir, f, { page: 16 });
      assert.deepEqual(behind.seqs, want, `index behind: ${where}`);
      assert.ok(behind.stats.scanned <= 300, `only the tail is scanned: ${where}`);
      // Only text, which the index holds as trigrams, has candidates that the log refuses.
      if (f.text === undefined) assert.equal(behind.stats.dropped, 0, where);
      assert.deepEqual((await search(dir, f, { index: false })).seqs, want, `no index: ${where}`);
      const { limit: _, ...all } = f;
      const n = await countMatches({ index: null, reader: await SeqReader.open(dir) }, all);
      assert.equal(n, selectEvents(events, all).length, `count: ${where}`);
    }
  });
});

Deno.test("searchLog() reads rows deleted or edited by hand from the log, and counts them", async () => {
  await withTempDir(async (dir) => {
    const events = await world(dir, 1000, 1000);
    const db = new DatabaseSync(indexPath(dir));
    try {
      db.exec("DELETE FROM events WHERE seq IN (4, 400, 997)");
      db.exec("UPDATE events SET role = role + 1 WHERE seq BETWEEN 600 AND 620");
    } finally {
      db.close();
    }
    const index = EventIndex.open(indexPath(dir), { readonly: true });
    const reader = await SeqReader.open(dir);
    try {
      for (const f of FILTERS) {
        const want = selectEvents(events, f).map((e) => e.seq);
        const got = await search(dir, f);
        assert.deepEqual(got.seqs, want, JSON.stringify(f));
        const { limit: _, ...all } = f;
        const n = await countMatches({ index, reader }, all);
        assert.equal(n, selectEvents(events, all).length, `count: ${JSON.stringify(f)}`);
      }
    } finally {
      index.close();
    }
  });
});

Deno.test("searchLog() drops rows forged tally and all, and still fills the page", async () => {
  await withTempDir(async (dir) => {
    const events = await world(dir, 600, 600);
    const db = new DatabaseSync(indexPath(dir));
    try {
      // Every alice row from 500 on claims to be bob's, and the tally is made to agree.
      db.exec(`UPDATE events SET role = (SELECT id FROM names WHERE value = 'bob')
        WHERE seq >= 500 AND role = (SELECT id FROM names WHERE value = 'alice')`);
      db.exec("UPDATE tally SET edits = 0");
    } finally {
      db.close();
    }
    const f: EventFilter = { role: "bob", order: "desc", limit: 10 };
    const got = await search(dir, f, { page: 4 });
    assert.deepEqual(got.seqs, selectEvents(events, f).map((e) => e.seq));
    assert.ok(got.stats.dropped > 0, "forged rows were nominated and dropped");
    assert.equal(got.stats.scanned, 0, "the forged tally made the index look whole");
    const alice = await search(dir, { role: "alice", afterSeq: 480 });
    assert.deepEqual(alice.seqs, [483, 486, 489, 492, 495, 498], "what the forgery hides");
  });
});

Deno.test("seqsNeeded() asks for the remaining matches at the share the log kept", () => {
  assert.equal(seqsNeeded(50, 0, 0), 50, "nothing tried yet");
  assert.equal(seqsNeeded(40, 50, 50), 40, "every nomination kept");
  assert.equal(seqsNeeded(40, 50, 10), 250, "a fifth kept: five times, and a margin");
  assert.equal(seqsNeeded(40, 50, 0), 2500, "none kept: as if the next were");
  assert.equal(seqsNeeded(Infinity, 50, 10), Infinity, "no limit");
});

Deno.test("searchLog() takes a page whose text the index cannot narrow in a few reads of the log", async () => {
  await withTempDir(async (dir) => {
    // A fifth of alice's events hold the word, in every span of the trigram index: the index
    // nominates all of her events and the log keeps a fifth.
    const store = await Store.open(dir, { checkpointIntervalMs: 0, hashWorker: false });
    try {
      await store.append({
        source: "test",
        events: Array.from({ length: 3000 }, (_, i) => ({
          ...newEvent(i),
          role: ["alice", "bob", "carol"][i % 3]!,
          statement: i % 5 === 0 ? `SELECT needle FROM t${i}` : `SELECT hay FROM t${i}`,
        })),
      });
      const feed = await attachIndex(store);
      await feed.drain();
      await feed.close();
    } finally {
      await store.close();
    }
    const events: AuditEvent[] = [];
    for await (const r of readLog(dir)) events.push(r.event);
    const index = EventIndex.open(indexPath(dir), { readonly: true });
    try {
      const reader = await SeqReader.open(dir);
      const read = reader.read.bind(reader);
      let reads = 0, seqs = 0;
      reader.read = (s) => (reads++, seqs += s.length, read(s));
      // The log's start is a listing of its segments: not needed where the index claims seq 0.
      const start = reader.start.bind(reader);
      let starts = 0;
      reader.start = () => (starts++, start());
      const f: EventFilter = { role: "alice", text: "needle", order: "desc", limit: 50 };
      const stats = { scanned: 0, dropped: 0 };
      const got: number[] = [];
      for await (const b of searchLog({ index, reader }, f, {}, stats)) {
        for (const r of b) got.push(r.seq);
      }
      assert.deepEqual(got, selectEvents(events, f).map((e) => e.seq));
      assert.equal(stats.scanned, 0, "the index answered");
      // 250 of her events hold the page; a walk that asked for the matches still missing took
      // a round (a statement, a read of the log) per fifth of them: 20 rounds.
      assert.ok(reads <= 3, `${reads} reads of the log`);
      assert.ok(seqs <= 400, `${seqs} events read for a page of 50 at a share of a fifth`);
      assert.equal(starts, 0, "the segments were not listed");
    } finally {
      index.close();
    }
  });
});
