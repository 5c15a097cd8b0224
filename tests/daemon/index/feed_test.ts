import { DatabaseSync } from "node:sqlite";
import { attachIndex, openIndexForRead } from "../../../daemon/index/feed.ts";
import { EventIndex, indexPath } from "../../../daemon/index/event_index.ts";
import { renderMetrics } from "../../../daemon/serve/metrics.ts";
import { StatusBoard } from "../../../daemon/serve/status_board.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

const NO_TIMER = { checkpointIntervalMs: 0, hashWorker: false };

async function storeOf(dir: string, n: number): Promise<void> {
  const store = await Store.open(dir, NO_TIMER);
  for (let i = 0; i < n; i += 1000) {
    await store.append({
      source: "s",
      events: Array.from({ length: Math.min(1000, n - i) }, (_, k) => testEvent(i + k)),
    });
  }
  await store.close();
}

Deno.test("attachIndex() catches up in the background and reports its lag to the board and /metrics", async () => {
  await withTempDir(async (dir) => {
    await storeOf(dir, 30_000);
    const store = await Store.open(dir, NO_TIMER);
    try {
      const board = new StatusBoard({ version: "t", dataDir: dir });
      // The attach answers at once: the log is caught up behind it.
      const feed = await attachIndex(store);
      board.watchIndex(() => feed.lag());
      const first = board.current().store.indexLag!;
      assert(first > 0 && first <= 30_000, `lag ${first} at attach`);
      await feed.drain();
      assertEquals(feed.lag(), 0);
      assertMatch(renderMetrics(board.current(), Date.now()), /^vigil_index_lag_events 0$/m);
      // New batches follow.
      await store.append({ source: "s", events: [testEvent(30_000)] });
      await feed.drain();
      assertEquals(feed.lag(), 0);
      await feed.close();
    } finally {
      await store.close();
    }
    const index = EventIndex.open(indexPath(dir), { readonly: true });
    assertEquals(index.lastSeq(), 30_000);
    index.close();
  });
});

Deno.test("a stop during the index's catch-up does not wait for it; the next attach goes on", async () => {
  await withTempDir(async (dir) => {
    await storeOf(dir, 60_000);
    let store = await Store.open(dir, NO_TIMER);
    let feed = await attachIndex(store);
    await feed.close();
    await store.close();
    const index = EventIndex.open(indexPath(dir), { readonly: true });
    const after = index.lastSeq();
    index.close();
    assert(after < 59_999, `the stop cut the catch-up short (index at ${after})`);
    store = await Store.open(dir, NO_TIMER);
    feed = await attachIndex(store);
    await feed.drain();
    assertEquals(feed.lag(), 0);
    await feed.close();
    await store.close();
  });
});

Deno.test("a stop during the catch-up with batches queued leaves no gap: the next attach trusts the index and goes on", async () => {
  await withTempDir(async (dir) => {
    await storeOf(dir, 60_000);
    let store = await Store.open(dir, NO_TIMER);
    let feed = await attachIndex(store);
    // Durable while the catch-up runs: queued behind it, past the index's end.
    await store.append({ source: "s", events: [testEvent(60_000), testEvent(60_001)] });
    await feed.close();
    await store.close();
    const index = EventIndex.open(indexPath(dir), { readonly: true });
    const after = index.lastSeq();
    const untrusted = index.untrusted(0, 60_002);
    index.close();
    assert(after < 59_999, `the stop cut the catch-up short (index at ${after})`);
    assertEquals(untrusted, [], "no rows past a gap, which would look like rows removed by hand");
    store = await Store.open(dir, NO_TIMER);
    feed = await attachIndex(store);
    assertEquals(feed.foundAtStart, [], "not rebuilt as if changed by hand");
    await feed.drain();
    assertEquals(feed.lag(), 0);
    await feed.close();
    await store.close();
  });
});

Deno.test("what is stored during a catch-up is held in memory only up to two batches; the index still gets every event", async () => {
  await withTempDir(async (dir) => {
    await storeOf(dir, 120_000);
    const store = await Store.open(dir, NO_TIMER);
    try {
      const feed = await attachIndex(store);
      // 20,000 events stored while the catch-up of 120,000 runs: far past the bound.
      let most = 0;
      for (let i = 0; i < 20; i++) {
        const from = 120_000 + i * 1000;
        await store.append({
          source: "s",
          events: Array.from({ length: 1000 }, (_, k) => testEvent(from + k)),
        });
        most = Math.max(most, feed.queued());
      }
      assert(most <= 2 * 2048, `${most} events held in memory`);
      await feed.drain();
      assertEquals(feed.lag(), 0);
      assertEquals(feed.queued(), 0);
      await feed.close();
    } finally {
      await store.close();
    }
    const index = EventIndex.open(indexPath(dir), { readonly: true });
    assertEquals(index.lastSeq(), 139_999);
    assertEquals(index.untrusted(0, 140_000), []);
    index.close();
  });
});

Deno.test("an index with rows edited by hand is rebuilt from the log when attached, and vigil verify names it", async () => {
  await withTempDir(async (dir) => {
    await storeOf(dir, 3_000);
    let store = await Store.open(dir, NO_TIMER);
    let feed = await attachIndex(store);
    await feed.drain();
    await feed.close();
    await store.close();
    const db = new DatabaseSync(indexPath(dir));
    db.exec("DELETE FROM events WHERE seq IN (17, 2500)");
    db.close();

    const r = await runVigil(["verify", "--data", dir]);
    assertEquals(r.code, 1, r.stdout + r.stderr);
    assertMatch(r.stdout, /^OK: 3000 events/m);
    assertMatch(
      r.stdout,
      /^INDEX: search index rows for seqs 0–2999 were changed or removed by hand; the log is intact/m,
    );

    store = await Store.open(dir, NO_TIMER);
    feed = await attachIndex(store);
    await feed.drain();
    await feed.close();
    await store.close();
    const index = EventIndex.open(indexPath(dir), { readonly: true });
    assertEquals([index.lastSeq(), index.untrusted(0, 3_000)], [2_999, []]);
    index.close();
    const again = await runVigil(["verify", "--data", dir]);
    assertEquals(again.code, 0, again.stdout);
    assert(!again.stdout.includes("INDEX:"));
  });
});

Deno.test("an index of the layout before (schema 3) is rebuilt from the log when attached", async () => {
  await withTempDir(async (dir) => {
    await storeOf(dir, 2_000);
    // What schema 3 left: its own `fields` layout, and rows a build of today cannot read.
    const db = new DatabaseSync(indexPath(dir));
    db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      INSERT INTO meta VALUES ('schema_version', '3');
      CREATE TABLE events (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, body TEXT);
      INSERT INTO events VALUES (0, 0, 'stale');
      CREATE TABLE fields (name INTEGER, value INTEGER, seq INTEGER,
        PRIMARY KEY (name, value, seq)) WITHOUT ROWID;`);
    db.close();
    assertEquals(openIndexForRead(dir), null, "a reader does not read the old layout");
    const store = await Store.open(dir, NO_TIMER);
    try {
      const feed = await attachIndex(store);
      await feed.drain();
      await feed.close();
    } finally {
      await store.close();
    }
    const index = openIndexForRead(dir)!;
    try {
      assertEquals([index.lastSeq(), index.count({}), index.untrusted(0, 2_000)], [
        1_999,
        2_000,
        [],
      ]);
      assertEquals(index.seqs({ role: "bob", text: "ünïcødé", limit: 3 }), [1, 4, 7]);
    } finally {
      index.close();
    }
  });
});
