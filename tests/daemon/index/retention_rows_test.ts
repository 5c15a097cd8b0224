/**
 * The search index after retention: the rows of deleted events are dropped — by the feed when
 * retention tells it (the daemon's path) and at the next attach for a deletion made while it
 * was stopped — the text index goes with them (FTS5's own integrity check against its content),
 * what is left is still vouched for, searches and `vigil query` never return a deleted seq, and
 * the index lag counts only events the log still holds.
 */

import { DatabaseSync } from "node:sqlite";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { Exporter } from "../../../daemon/export/exporter.ts";
import { applyRetention } from "../../../daemon/export/retention.ts";
import { EventIndex, indexPath } from "../../../daemon/index/event_index.ts";
import { attachIndex } from "../../../daemon/index/feed.ts";
import { type EventFilter, selectEvents } from "../../../daemon/index/filter.ts";
import { countMatches, searchLog, type SearchStats } from "../../../daemon/index/search.ts";
import { TALLY_BLOCK } from "../../../daemon/index/schema.ts";
import { TEXT_SPAN } from "../../../daemon/index/text_spans.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { SeqReader } from "../../../daemon/store/seq_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

/** Events in the store: more than two tally blocks, so a drop spans several transactions. */
const EVENTS = 2 * TALLY_BLOCK + 5_000;
const STORE_OPTS = { checkpointIntervalMs: 0, hashWorker: false, maxSegmentBytes: 512 * 1024 };

/** A store of many segments, each event's statement naming its seq, exported to `archive`. */
async function exportedStore(data: string, archive: string): Promise<void> {
  const store = await Store.open(data, STORE_OPTS);
  for (let i = 0; i < EVENTS; i += 1000) {
    const n = Math.min(1000, EVENTS - i);
    await store.append({ source: "s", events: Array.from({ length: n }, (_, k) => ev(i + k)) });
  }
  await store.close();
  await new Exporter(data, [{ name: "a", type: "dir", path: archive, intervalMs: 60_000 }])
    .runNow();
}

function ev(i: number) {
  return testEvent(i, { statement: `SELECT marker_${i}_end FROM t` });
}

/** What the index file holds, read as someone with a shell on the box would. */
function indexFacts(data: string, below: number): { rows: number; textHits: number } {
  // Not read-only: FTS5 runs its integrity check as an INSERT.
  const db = new DatabaseSync(indexPath(data));
  try {
    const rows = Number(
      db.prepare("SELECT count(*) AS n FROM events WHERE seq < ?").get(below)?.n,
    );
    // Throws (SQLITE_CORRUPT_VTAB) if the text index still holds entries of dropped rows.
    db.exec(`INSERT INTO events_text (events_text, rank) VALUES ('integrity-check', 1)`);
    // Every statement holds "marker": the text index must keep no span row (`text_spans.ts`)
    // that holds only seqs below `below`.
    const textHits = Number(
      db.prepare(
        `SELECT count(*) AS n FROM events_text WHERE events_text MATCH '"ark"' AND rowid < ?`,
      )
        .get(below - below % TEXT_SPAN)?.n,
    );
    return { rows, textHits };
  } finally {
    db.close();
  }
}

/** Every check that seqs below `from` are gone from what the index and searches answer. */
async function assertNothingBelow(data: string, from: number): Promise<void> {
  assertEquals(indexFacts(data, from), { rows: 0, textHits: 0 });
  const index = EventIndex.open(indexPath(data), { readonly: true });
  const reader = await SeqReader.open(data);
  try {
    const end = await reader.end();
    assertEquals(index.claims(), { first: from, last: end - 1 });
    assertEquals(index.untrusted(0, end), [], "what is left is vouched for");
    assertEquals(index.seqs({ text: "marker", limit: 1 }), [from], "nothing below is nominated");
    const stats: SearchStats = { scanned: 0, dropped: 0 };
    let first = -1, count = 0;
    for await (const batch of searchLog({ index, reader }, { order: "asc" }, {}, stats)) {
      if (first < 0) first = batch[0]!.seq;
      count += batch.length;
    }
    assertEquals([first, count], [from, end - from]);
    assertEquals(stats, { scanned: 0, dropped: 0 }, "the index answered the whole search");
    const deleted = { text: "marker_0_end" };
    assertEquals(await countMatches({ index, reader }, deleted), 0);
    const kept = { text: `marker_${from}_end` };
    assertEquals(await countMatches({ index, reader }, kept), 1);
  } finally {
    index.close();
  }
  const q = await runVigil(["query", "--data", data, "--text", "marker_0_end"]);
  assertEquals([q.code, q.stdout.trim()], [0, ""], q.stderr);
  const first = await runVigil(["query", "--data", data, "--limit", "1"]);
  assertEquals(JSON.parse(first.stdout).seq, from, first.stderr);
  const verify = await runVigil(["verify", "--data", data]);
  assertEquals(verify.code, 0, verify.stdout + verify.stderr);
}

Deno.test("retention through a running feed drops the index rows of deleted segments", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await exportedStore(data, `${dir}/archive`);
    const store = await Store.open(data, STORE_OPTS);
    try {
      const feed = await attachIndex(store);
      await feed.drain();
      assertEquals(indexFacts(data, 1).rows, 1);
      const r = await applyRetention(data, { targets: ["a"], localRetentionMs: 0, store });
      assert(r.toSeq > TALLY_BLOCK + 1, `retention deleted seqs below ${r.toSeq}`);
      assert(r.toSeq % TALLY_BLOCK !== 0, "the cut falls inside a tally block");
      await feed.dropBefore(r.toSeq);
      await feed.drain();
      assertEquals(feed.lag(), 0);
      // New events are indexed after the drop as before.
      await store.append({ source: "s", events: [ev(EVENTS + 1)] });
      await feed.drain();
      assertEquals(feed.lag(), 0);
      await feed.close();
      await assertNothingBelow(data, r.toSeq);
    } finally {
      await store.close();
    }
  });
});

Deno.test("an attach drops the index rows of segments retention deleted while it was stopped", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await exportedStore(data, `${dir}/archive`);
    assertEquals((await runVigil(["reindex", "--data", data])).code, 0);
    const r = await applyRetention(data, { targets: ["a"], localRetentionMs: 0 });
    assert(r.toSeq > 0);
    assertEquals(indexFacts(data, r.toSeq).rows, r.toSeq, "the rows outlived their segments");
    const store = await Store.open(data, STORE_OPTS);
    try {
      const feed = await attachIndex(store);
      await feed.drain();
      assertEquals(feed.lag(), 0);
      await feed.close();
    } finally {
      await store.close();
    }
    await assertNothingBelow(data, r.toSeq);
  });
});

Deno.test("an index behind the retained start counts as lag only the events the log holds", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await exportedStore(data, `${dir}/archive`);
    // An index of the first 500 events alone, as after a long stop.
    const index = EventIndex.open(indexPath(data));
    const first = [];
    for await (const rec of readLog(data)) {
      if (first.push({ seq: rec.seq, event: rec.event }) >= 500) break;
    }
    index.add(first);
    const r = await applyRetention(data, { targets: ["a"], localRetentionMs: 0 });
    assert(r.toSeq > 500);
    assertEquals(index.dropBefore(r.toSeq, { limit: 100 }), true, "a bounded step leaves rows");
    while (index.dropBefore(r.toSeq, { limit: 100 }));
    assertEquals(index.lastSeq(), r.toSeq - 1, "complete up to the retained start");
    assertEquals(index.claims(), null, "and holding nothing");
    index.close();
    const store = await Store.open(data, STORE_OPTS);
    try {
      const feed = await attachIndex(store);
      // Before and after the catch-up, the lag never counts the deleted events.
      assert(feed.lag() <= store.size - r.toSeq, `lag ${feed.lag()}`);
      await feed.drain();
      assertEquals(feed.lag(), 0);
      await feed.close();
    } finally {
      await store.close();
    }
    await assertNothingBelow(data, r.toSeq);
  });
});

Deno.test("before the feed drops them, rows that outlived their segments change no search or count", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await exportedStore(data, `${dir}/archive`);
    assertEquals((await runVigil(["reindex", "--data", data])).code, 0);
    const r = await applyRetention(data, { targets: ["a"], localRetentionMs: 0 });
    assert(r.toSeq > TALLY_BLOCK, `retention deleted seqs below ${r.toSeq}`);
    const logged: AuditEvent[] = [];
    for await (const rec of readLog(data)) logged.push(rec.event);
    const index = EventIndex.open(indexPath(data), { readonly: true });
    const reader = await SeqReader.open(data);
    try {
      assertEquals(index.claims()?.first, 0, "the index still claims the deleted seqs");
      const src = { index, reader };
      const filters: EventFilter[] = [
        { order: "asc", limit: 10 },
        { text: "marker_0_end" },
        { role: "bob", beforeSeq: r.toSeq + 30, order: "desc", limit: 50 },
        { role: "bob", text: "marker", order: "asc", limit: 5 },
      ];
      for (const f of filters) {
        const got: number[] = [];
        for await (const b of searchLog(src, f)) for (const x of b) got.push(x.seq);
        assertEquals(got, selectEvents(logged, f).map((e) => e.seq), JSON.stringify(f));
      }
      for (const f of [{}, { role: "bob" }, { text: "marker" }] as EventFilter[]) {
        const want = selectEvents(logged, f).length;
        assertEquals(await countMatches(src, f), want, `count ${JSON.stringify(f)}`);
      }
    } finally {
      index.close();
    }
  });
});
