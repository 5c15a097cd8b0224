/**
 * `JsonBatchBuilder` against the object builder it stands in for: the same events, given as
 * their canonical JSON bytes, make the same Arrow IPC bytes as `eventsToArrowTable` over the
 * events — awkward text, escapes, nulls, nested JSON, extreme integers, and lines it must hand
 * to `JSON.parse` — batch after batch from one builder, with the object builder's errors.
 */

import { eventsToArrowTable } from "../../../daemon/event/arrow.ts";
import { canonicalJson } from "../../../daemon/event/canonical.ts";
import { JsonBatchBuilder, type JsonLines } from "../../../daemon/export/arrow_json.ts";
import { ipcStreamInto } from "../../../daemon/export/parquet_ipc.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";
import { awkward, ev, many } from "./_events.ts";

const enc = new TextEncoder();

async function ipc(table: Parameters<typeof ipcStreamInto>[0]): Promise<Uint8Array> {
  return (await ipcStreamInto(table)).slice();
}

/** The lines, each followed by a newline, in one buffer as the spool reader hands them over. */
function linesOf(texts: string[]): JsonLines {
  const buf = enc.encode(texts.map((t) => `${t}\n`).join(""));
  const starts = new Int32Array(texts.length), ends = new Int32Array(texts.length);
  for (let i = 0, at = 0; i < texts.length; i++) {
    starts[i] = at;
    ends[i] = at = buf.indexOf(0x0a, at);
    at++;
  }
  return { buf, starts, ends, count: texts.length };
}

function built(b: JsonBatchBuilder, texts: string[]) {
  return b.build(linesOf(texts)).table;
}

Deno.test("JsonBatchBuilder builds from canonical JSON the table eventsToArrowTable builds", async () => {
  const b = new JsonBatchBuilder(4096);
  for (const events of [awkward(), many(3000), awkward().slice(0, 1), many(4096)]) {
    const want = await ipc(eventsToArrowTable(events));
    assertEquals(await ipc(built(b, events.map(canonicalJson))), want, `${events.length} events`);
  }
});

Deno.test("JsonBatchBuilder hands lines that are not canonical to JSON.parse, with the same table", async () => {
  const events = awkward();
  const lines = events.map(canonicalJson);
  const loose = lines.map((line, i) => {
    if (i % 3 === 0) return JSON.stringify(JSON.parse(line), null, 1).replaceAll("\n", " ");
    if (i % 3 === 1) { // keys out of order, and one the schema does not have
      const o = JSON.parse(line);
      return JSON.stringify({ extra: 1, ...Object.fromEntries(Object.entries(o).reverse()) });
    }
    return line.replace('"seq":', '"se\\u0071":'); // an escape in a key
  });
  const b = new JsonBatchBuilder(64);
  assertEquals(await ipc(built(b, loose)), await ipc(eventsToArrowTable(events)));
});

Deno.test("JsonBatchBuilder.build() gives the seqs and fails as the object builder does", () => {
  const b = new JsonBatchBuilder(8);
  const got = b.build(linesOf([ev(42), ev(43), ev(47)].map(canonicalJson)));
  assertEquals([got.firstSeq, got.lastSeq, got.table.numRows], [42, 47, 3]);
  const cases: [string, string][] = [
    ['{"seq":1,"ts":2,"ingest_ts":3,"source":"s"}', 'field "kind" is missing'],
    ['{"seq":"1","ts":2,"ingest_ts":3,"source":"s","kind":"app"}', '"seq" is not a safe'],
    ['{"seq":1,"ts":2,"ingest_ts":3,"source":"s","kind":"app","role":7}', '"role" is not a'],
    ['{"seq":1,"ts":2,"ingest_ts":3,"source":"s","kind":"app","params":[1]}', "not a string"],
    ['{"seq":1,"ts":2.5,"ingest_ts":3,"source":"s","kind":"app"}', '"ts" is not a safe'],
  ];
  for (const [json, message] of cases) {
    assertThrows(() => new JsonBatchBuilder(8).build(linesOf([json])), {
      instanceOf: TypeError,
      message,
    });
  }
  assertThrows(() => b.build(linesOf(['{"seq":1,'])), { instanceOf: SyntaxError });
  assertThrows(() => b.build(linesOf(Array(9).fill(canonicalJson(ev(1))))), {
    instanceOf: RangeError,
  });
});
