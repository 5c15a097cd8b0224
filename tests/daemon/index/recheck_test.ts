/**
 * The row-by-row re-check of the search index against the log finds what the tally cannot: rows
 * edited, deleted or edited with the triggers dropped, each with the tally put right by hand so
 * that `untrusted()` vouches for them. A rebuild leaves nothing to find. It reads at the caller's
 * pace and stops when asked.
 */

import { DatabaseSync } from "node:sqlite";
import { EventIndex, indexPath } from "../../../daemon/index/event_index.ts";
import { attachIndex } from "../../../daemon/index/feed.ts";
import { recheckIndex } from "../../../daemon/index/recheck.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

const NO_TIMER = { checkpointIntervalMs: 0, hashWorker: false };
const EVENTS = 20_000;

/** Changes rows as a person with the file would, then makes the tally agree again. */
function tamper(dir: string): void {
  const db = new DatabaseSync(indexPath(dir));
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    // seq 100 (bob's): another role (an existing name, so only the id changes).
    const alice = Number(db.prepare("SELECT id FROM names WHERE value = 'alice'").get()!.id);
    db.prepare("UPDATE events SET role = ? WHERE seq = 100").run(alice);
    // seq 17000: gone.
    db.exec("DELETE FROM events WHERE seq = 17000");
    // seq 500: its command changed with the triggers out of the way.
    db.exec("DROP TRIGGER events_edited");
    db.exec("DROP TRIGGER events_deleted");
    db.exec("UPDATE events SET command_key = NULL WHERE seq = 500");
    db.exec("UPDATE tally SET edits = 0");
    db.exec("UPDATE tally SET rows = rows + 1 WHERE block = 1");
  } finally {
    db.close();
  }
}

Deno.test("recheckIndex() finds rows changed behind the tally's back; a rebuild mends them", async () => {
  await withTempDir(async (dir) => {
    let store = await Store.open(dir, NO_TIMER);
    for (let i = 0; i < EVENTS; i += 2000) {
      const events = Array.from({ length: 2000 }, (_, k) => testEvent(i + k));
      await store.append({ source: "test", events });
    }
    const feed = await attachIndex(store);
    try {
      await feed.drain();
      const clean = await recheckIndex(dir, { upTo: store.size });
      assertEquals(clean, { checked: EVENTS, ranges: [], differing: 0, empty: false });

      tamper(dir);
      const index = EventIndex.open(indexPath(dir), { readonly: true });
      try {
        assertEquals(index.untrusted(0, EVENTS), [], "the tally was put right by hand");
      } finally {
        index.close();
      }
      let paced = 0;
      const found = await recheckIndex(dir, {
        upTo: store.size,
        pace: (n) => Promise.resolve(void (paced += n)),
      });
      assertEquals(found.ranges, [[100, 101], [500, 501], [17_000, 17_001]]);
      assertEquals([found.differing, found.checked, paced], [3, EVENTS, EVENTS]);

      // Asked to stop, it ends after the chunk in hand.
      const early = await recheckIndex(dir, { upTo: store.size, chunk: 1000, stopped: () => true });
      assertEquals(early.checked, 1000);

      await feed.rebuild();
      assertEquals(feed.lag(), 0);
      assertEquals((await recheckIndex(dir, { upTo: store.size })).differing, 0);
      // The rebuilt index has its triggers again: an edit shows in the tally.
      const db = new DatabaseSync(indexPath(dir));
      db.exec("UPDATE events SET ts = ts + 1 WHERE seq = 3");
      db.close();
      const again = EventIndex.open(indexPath(dir), { readonly: true });
      assert(again.untrusted(0, EVENTS).length > 0, "the triggers count edits again");
      again.close();
    } finally {
      await feed.close();
      await store.close();
    }
    // Events past the index's end are not its fault: only what it claims is compared.
    store = await Store.open(dir, NO_TIMER);
    try {
      await store.append({ source: "test", events: [testEvent(EVENTS)] });
      const r = await recheckIndex(dir, { upTo: store.size });
      assertEquals([r.checked, r.ranges], [EVENTS, [[3, 4]]]);
    } finally {
      await store.close();
    }
  });
});

Deno.test("recheckIndex() of a data directory without an index finds nothing to compare", async () => {
  await withTempDir(async (dir) => {
    const r = await recheckIndex(dir, { upTo: 10 });
    assertEquals(r, { checked: 0, ranges: [], differing: 0, empty: true });
  });
});

Deno.test("recheckIndex() finds a zone narrowed by hand, or a zone width cut, that would hide events from a time window", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, NO_TIMER);
    const events = Array.from({ length: 4096 }, (_, k) => testEvent(k));
    await store.append({ source: "test", events });
    const feed = await attachIndex(store);
    try {
      await feed.drain();
      assertEquals((await recheckIndex(dir, { upTo: store.size })).differing, 0);
      const db = new DatabaseSync(indexPath(dir));
      try {
        // Zone 1 (seqs 1024..2047) made to end before its last event: a window on that event
        // would skip the zone.
        db.exec("UPDATE zones SET max_ts = max_ts - 1 WHERE zone = 1");
        let r = await recheckIndex(dir, { upTo: store.size });
        assertEquals(r.ranges, [[1024, 2048]]);
        // Widened instead: slower searches, nothing hidden.
        db.exec("UPDATE zones SET max_ts = max_ts + 1000001 WHERE zone = 1");
        db.exec(
          "UPDATE meta SET value = CAST(value AS INTEGER) + 1000001 WHERE key = 'zone_width'",
        );
        assertEquals((await recheckIndex(dir, { upTo: store.size })).differing, 0);
        // The width searches seek back by, cut below a zone's span: that zone is hidden.
        db.exec("UPDATE meta SET value = '0' WHERE key = 'zone_width'");
        r = await recheckIndex(dir, { upTo: store.size });
        assertEquals(r.differing, 4096);
        // A zone row deleted.
        await feed.rebuild();
        db.exec("DELETE FROM zones WHERE zone = 3");
        r = await recheckIndex(dir, { upTo: store.size });
        assertEquals(r.ranges, [[3072, 4096]]);
      } finally {
        db.close();
      }
    } finally {
      await feed.close();
      await store.close();
    }
  });
});

Deno.test("recheckIndex() vouches for a zone listed as far wider, and finds one taken off the list", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, NO_TIMER);
    const YEAR = 365 * 86_400_000_000;
    // Zone 2 (seqs 2048..3071) holds a few events a year late: listed, not the seek's width.
    const events = Array.from(
      { length: 4096 },
      (_, k) => testEvent(k, k >= 2100 && k < 2104 ? { ts: testEvent(k).ts + YEAR } : {}),
    );
    await store.append({ source: "test", events: events.slice(0, 2048) });
    await store.append({ source: "test", events: events.slice(2048) });
    const feed = await attachIndex(store);
    try {
      await feed.drain();
      const db = new DatabaseSync(indexPath(dir));
      try {
        const wide = db.prepare("SELECT value FROM meta WHERE key = 'zone_wide'").get()?.value;
        assertEquals(wide, "[2]");
        assertEquals((await recheckIndex(dir, { upTo: store.size })).differing, 0);
        db.exec("UPDATE meta SET value = '[]' WHERE key = 'zone_wide'");
        const r = await recheckIndex(dir, { upTo: store.size });
        assertEquals(r.ranges, [[2048, 3072]]);
      } finally {
        db.close();
      }
    } finally {
      await feed.close();
      await store.close();
    }
  });
});
