/**
 * Text spans (`daemon/index/text_spans.ts`): one full-text row per run of neighbouring events,
 * which nominates every indexed event of its block from its first seq, in order, once each,
 * whether the events came in one batch or one at a time.
 */

import assert from "node:assert/strict";
import { eventSpanRows, spanEnd, TEXT_SPAN } from "../../../daemon/index/text_spans.ts";
import { searchableText } from "../../../daemon/index/text.ts";
import { event, records, searched, seqs, withIndex } from "./_events.ts";
import { selectEvents } from "../../../daemon/index/filter.ts";

/**
 * The span rows of `texts` (seq and searchable text, ascending seq) as the module documents
 * them: one per run within an aligned block, the distinct lines of the joined folded texts.
 */
function spanRowsOfTexts(texts: readonly { seq: number; body: string }[]): unknown[] {
  const out: unknown[] = [];
  let start = -1, block = -1;
  let lines = new Set<string>();
  for (const { seq, body } of texts) {
    if (Math.floor(seq / TEXT_SPAN) !== block) {
      if (start >= 0) out.push(start, [...lines].join("\n"));
      start = seq;
      block = Math.floor(seq / TEXT_SPAN);
      lines = new Set();
    }
    for (const line of body.split("\n")) lines.add(line);
  }
  if (start >= 0) out.push(start, [...lines].join("\n"));
  return out;
}

Deno.test("eventSpanRows() makes one row per run within an aligned block, each line once", () => {
  const t = TEXT_SPAN; // blocks [0, t), [t, 2t), [2t, 3t)
  const evs = [
    event(t - 3, { statement: "SELECT 1", role: "x", params: ["Alice"] }),
    event(t - 2, { statement: "select 1", error: "Bob" }),
    event(t - 1, { statement: "X" }),
    event(t, { statement: "Select 1" }),
    event(t + 1, {}),
    event(2 * t + 1, { token: "y" }),
  ];
  const rows = eventSpanRows(evs.map((ev) => ({ seq: ev.seq, event: ev })));
  assert.deepEqual(rows, [t - 3, "select 1\nalice\nbob\nx", t, "select 1", 2 * t + 1, "y"]);
  assert.deepEqual(eventSpanRows([]), []);
  assert.equal(spanEnd(0), TEXT_SPAN - 1);
  assert.equal(spanEnd(2 ** 40 + 3), 2 ** 40 + TEXT_SPAN - 1, "beyond 32-bit seqs");
});

Deno.test("eventSpanRows() gives the rows of the events' joined searchable texts", () => {
  // Values that fold differently alone and joined would show here: many lines, repeats, case,
  // final sigma, lone surrogates, empty values, events without text between.
  const values = [
    "ΟΔΟΣ",
    "Σ",
    "a\nB\nc",
    "",
    "\n",
    "x\ud800",
    "\udc00y",
    "İstanbul",
    "ß",
    "DROP TABLE t",
    "drop table t",
    "A\r\nB",
    "tab\tsep",
  ];
  let seed = 7;
  const pick = () => values[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % values.length]!;
  const evs = [];
  for (let seq = 0; seq < 400; seq++) {
    const n = (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 5;
    if (n === 0) evs.push(event(seq));
    else {
      evs.push(event(seq, {
        statement: pick(),
        ...(n > 1 ? { params: [pick(), null, pick()] } : {}),
        ...(n > 2 ? { new_row: { a: pick(), b: 3, c: null } } : {}),
        ...(n > 3 ? { old_row: { a: pick() }, error: pick() } : {}),
      }));
    }
  }
  const texts = evs.flatMap((ev) => {
    const body = searchableText(ev);
    return body === undefined ? [] : [{ seq: ev.seq, body }];
  });
  assert.deepEqual(
    eventSpanRows(evs.map((ev) => ({ seq: ev.seq, event: ev }))),
    spanRowsOfTexts(texts),
  );
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
