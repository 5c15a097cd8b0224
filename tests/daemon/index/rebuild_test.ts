/** `vigil reindex`'s rebuild: every event indexed again from the log, and no free pages left. */

import { DatabaseSync } from "node:sqlite";
import { EventIndex, indexPath } from "../../../daemon/index/event_index.ts";
import { rebuildIndex } from "../../../daemon/index/feed.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assertEquals } from "../../support/assert.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

const NO_TIMER = { checkpointIntervalMs: 0, hashWorker: false };

Deno.test("rebuildIndex() indexes the whole log again and gives back the pages its merge freed", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, NO_TIMER);
    try {
      for (let i = 0; i < 6000; i += 1000) {
        const events = Array.from({ length: 1000 }, (_, k) => testEvent(i + k));
        await store.append({ source: "test", events });
      }
    } finally {
      await store.close();
    }
    assertEquals(await rebuildIndex(dir), 6000);
    assertEquals(await rebuildIndex(dir), 6000, "again, over the index it built");
    const raw = new DatabaseSync(indexPath(dir), { readOnly: true });
    try {
      assertEquals(Number(raw.prepare("PRAGMA freelist_count").get()!.freelist_count), 0);
    } finally {
      raw.close();
    }
    const index = EventIndex.open(indexPath(dir), { readonly: true });
    try {
      assertEquals(index.claims(), { first: 0, last: 5999 });
      assertEquals(index.count({ role: "bob" }), 2000);
      assertEquals(index.seqs({ text: "public.t3", order: "desc", limit: 2 }), [5998, 5993]);
    } finally {
      index.close();
    }
  });
});
