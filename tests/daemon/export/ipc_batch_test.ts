/**
 * `eventIpcInto` against apache-arrow's stream writer it stands in for: for the same table, the
 * stream reads back (by apache-arrow) as the same table, and parquet-wasm encodes it into the
 * same Parquet bytes; it reuses the buffer it is handed; and it declines tables it does not lay
 * out, so the caller falls back to the writer.
 */

import { tableFromArrays, tableFromIPC } from "apache-arrow";
import { eventsToArrowTable } from "../../../daemon/event/arrow.ts";
import { canonicalJson } from "../../../daemon/event/canonical.ts";
import { JsonBatchBuilder } from "../../../daemon/export/arrow_json.ts";
import { eventIpcInto } from "../../../daemon/export/ipc_batch.ts";
import { ipcStreamInto } from "../../../daemon/export/parquet_ipc.ts";
import { writerProperties } from "../../../daemon/export/parquet_props.ts";
import { parquetWasm } from "../../../daemon/export/parquet_wasm.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { awkward, many } from "./_events.ts";

const enc = new TextEncoder();

/** The table `JsonBatchBuilder` builds from the events' canonical JSON. */
function fromJson(events: ReturnType<typeof awkward>) {
  const buf = enc.encode(events.map((e) => `${canonicalJson(e)}\n`).join(""));
  const starts = new Int32Array(events.length), ends = new Int32Array(events.length);
  for (let i = 0, at = 0; i < events.length; i++) {
    starts[i] = at;
    ends[i] = at = buf.indexOf(0x0a, at);
    at++;
  }
  return new JsonBatchBuilder(4096).build({ buf, starts, ends, count: events.length }).table;
}

Deno.test("eventIpcInto writes a stream that reads back, and encodes, as apache-arrow's does", async () => {
  const pq = await parquetWasm();
  const parquet = (ipc: Uint8Array) =>
    pq.writeParquet(pq.Table.fromIPCStream(ipc), writerProperties(pq, undefined));
  const cases = [
    ["awkward", eventsToArrowTable(awkward())],
    ["one", eventsToArrowTable(awkward().slice(0, 1))],
    ["many", eventsToArrowTable(many(3000))],
    ["from JSON", fromJson(many(1000))],
    ["none", eventsToArrowTable([])],
  ] as const;
  for (const [name, table] of cases) {
    const want = (await ipcStreamInto(table)).slice();
    const got = eventIpcInto(table);
    assert(got !== null, `${name}: laid out`);
    // Read back by apache-arrow and written again: the bytes of the writer's own stream.
    assertEquals((await ipcStreamInto(tableFromIPC(got))).slice(), want, name);
    assertEquals(parquet(got), parquet(want), `${name}: Parquet bytes`);
  }
});

Deno.test("eventIpcInto reuses a buffer large enough, and declines tables it does not lay out", () => {
  const big = eventIpcInto(eventsToArrowTable(many(500)))!;
  const small = eventIpcInto(eventsToArrowTable(many(10)), big)!;
  assert(small.buffer === big.buffer, "the buffer handed over is reused");
  const grown = eventIpcInto(eventsToArrowTable(many(2000)), small)!;
  assert(grown.buffer !== big.buffer && grown.length > big.length, "a larger one is made");
  assertEquals(eventIpcInto(tableFromArrays({ a: Int32Array.of(1, 2) })), null);
  assertEquals(eventIpcInto(eventsToArrowTable(many(20)).slice(3)), null);
});
