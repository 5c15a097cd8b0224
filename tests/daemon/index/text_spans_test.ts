/**
 * Text spans (`daemon/index/text_spans.ts`): one full-text row per run of neighbouring events,
 * which nominates every indexed event of its block from its first seq, in order, once each,
 * whether the events came in one batch or one at a time.
 */

import assert from "node:assert/strict";
import { spanEnd, spanRows, TEXT_SPAN } from "../../../daemon/index/text_spans.ts";
import { event, records, searched, seqs, withIndex } from "./_events.ts";
import { selectEvents } from "../../../daemon/index/filter.ts";

Deno.test("spanRows() makes one row per run within an aligned block, each line once", () => {
  const texts = [
    { seq: 5, body: "select 1\nalice" },
    { seq: 6, body: "select 1\nbob" },
    { seq: 7, body: "x" },
    { seq: 8, body: "select 1" },
    { seq: 17, body: "y" },
  ];
  assert.deepEqual(spanRows(texts), [5, "select 1\nalice\nbob\nx", 8, "select 1", 17, "y"]);
  assert.deepEqual(spanRows([]), []);
  assert.equal(spanEnd(0), TEXT_SPAN - 1);
  assert.equal(spanEnd(2 ** 40 + 3), 2 ** 40 + TEXT_SPAN - 1, "beyond 32-bit seqs");
});

Deno.test("a text walk gives each nominated seq once and in order, rows of a block added apart", async () => {
  await withIndex((index) => {
    const words = ["alpha", "bravo", "charlie"];
    const evs = Array.from(
      { length: 60 },
      (_, i) =>
        event(i, { role: i % 2 ? "r1" : "r2", statement: `select ${words[i % 3]} from t${i}` }),
    );
    // One at a time (as live intake adds them), then in batches that cut blocks in two.
    for (const e of evs.slice(0, 20)) index.add(records([e]));
    index.add(records(evs.slice(20, 27)));
    index.add(records(evs.slice(27, 60)));
    for (const text of ["bravo", "charlie t1", "select", "zzz"]) {
      for (const order of ["asc", "desc"] as const) {
        for (const extra of [{}, { role: "r1" }, { afterSeq: 9, beforeSeq: 41 }]) {
          const f = { text, order, ...extra };
          const got = index.seqs(f);
          const label = JSON.stringify(f);
          assert.deepEqual(got, [...new Set(got)], `once each: ${label}`);
          const sorted = got.toSorted((a, b) => order === "asc" ? a - b : b - a);
          assert.deepEqual(got, sorted, `in order: ${label}`);
          const want = seqs(selectEvents(evs, f));
          for (const s of want) assert.ok(got.includes(s), `${s} nominated: ${label}`);
          assert.deepEqual(searched(index, evs, f), want, `the events decide: ${label}`);
          assert.ok(index.count(f) >= want.length, `count bounds: ${label}`);
          // A page walk cut by its limit goes on where the last page ended.
          const page = index.seqs({ ...f, limit: 3 });
          assert.deepEqual(page, got.slice(0, 3), `limit: ${label}`);
        }
      }
    }
  });
});
