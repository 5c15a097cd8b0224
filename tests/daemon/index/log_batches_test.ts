/**
 * The log read on a Worker for the index's writer gives what the seq reader gives, batch for
 * batch, with each event's folded text, and without the fields only that text needs.
 */

import { EventIndex, indexPath } from "../../../daemon/index/event_index.ts";
import { logBatches } from "../../../daemon/index/log_batches.ts";
import { searchableText } from "../../../daemon/index/text.ts";
import { SeqReader } from "../../../daemon/store/seq_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

const NO_TIMER = { checkpointIntervalMs: 0, hashWorker: false };

Deno.test("logBatches() reads the log on a Worker as SeqReader.scan() does, text folded", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, NO_TIMER);
    try {
      for (let i = 0; i < 3000; i += 500) {
        const events = Array.from({ length: 500 }, (_, k) =>
          testEvent(i + k, {
            new_row: { id: String(i + k), note: `Row ${i + k}` },
            ...(k % 7 === 0 ? { error: `Relation T${k} Does Not Exist` } : {}),
          }));
        await store.append({ source: "test", events });
      }
    } finally {
      await store.close();
    }
    const reader = await SeqReader.open(dir);
    const want = [];
    for await (const b of reader.scan(100, 2900, { chunk: 1024 })) want.push(b);
    const got = [];
    for await (const b of logBatches(dir, 100, 2900, 1024)) got.push(b);
    assertEquals(got.map((b) => b.length), want.map((b) => b.length));
    const flat = got.flat(), full = want.flat();
    assertEquals(flat.length, 2800);
    for (let i = 0; i < flat.length; i++) {
      const g = flat[i]!, w = full[i]!;
      assertEquals(g.seq, w.seq);
      assertEquals(g.text, searchableText(w.event) ?? null);
      const { new_row: _n, error: _e, ...rest } = w.event;
      assertEquals(g.event, rest);
    }
    assert(flat.some((r) => r.text?.includes("relation t0 does not exist")), "error text folded");

    // Broken off early, it ends its Worker (the test's leak check would catch one left running).
    for await (const b of logBatches(dir, 0, 3000, 512)) {
      assertEquals(b[0]!.seq, 0);
      break;
    }
    let none = 0;
    for await (const b of logBatches(dir, 3000, 4000, 512)) none += b.length;
    assertEquals(none, 0, "past the log's end");
  });
});

Deno.test("vigil reindex reads a large log on its Worker with the daemon's permissions", async () => {
  await withTempDir(async (dir) => {
    // 50k events or more: `feed.ts` reads them on the Worker.
    const n = 52_000;
    const store = await Store.open(dir, NO_TIMER);
    try {
      for (let i = 0; i < n; i += 4000) {
        const events = Array.from({ length: Math.min(4000, n - i) }, (_, k) => testEvent(i + k));
        await store.append({ source: "test", events });
      }
    } finally {
      await store.close();
    }
    const r = await runVigil(["reindex", "--data", dir]);
    assertEquals(r.code, 0, r.stderr);
    const index = EventIndex.open(indexPath(dir), { readonly: true });
    try {
      assertEquals(index.claims(), { first: 0, last: n - 1 });
      assertEquals(index.count({ role: "carol" }), Math.floor(n / 3));
      // Nominated by span of eight seqs (`text_spans.ts`): n - 2 and n - 7 hold the text.
      const nominated = index.seqs({ text: "public.t3", order: "desc", limit: 16 });
      assertEquals(nominated.includes(n - 2) && nominated.includes(n - 7), true, `${nominated}`);
    } finally {
      index.close();
    }
  });
});
