import { canonicalEvent, canonicalJson } from "../../../daemon/event/canonical.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import {
  CREATED_BY,
  parquetEventStream,
  readParquetEvents,
  readParquetFooter,
  ROW_GROUP_ROWS,
  writeEventsParquet,
} from "../../../daemon/export/parquet.ts";
import { decodeParquetMeta } from "../../../daemon/export/parquet_meta.ts";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { testEvent } from "../../support/store.ts";
import { fileMetaFor } from "./_events.ts";

const T0 = 1_714_550_400_123_456;

function ev(seq: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  return { seq, ts: T0 + seq, ingest_ts: T0 + seq + 7, source: "billing", kind: "app", ...extra };
}

/** Values a Parquet round trip could bend: empties, nulls in lists, JSON key order, extremes. */
function awkwardEvents(): AuditEvent[] {
  return [
    ev(0),
    ev(1, { statement: "", params: [], context: {}, db: "", redacted: false }),
    ev(2, { statement: "SELECT '🦀', 'ü', '中文', e'\\n'", params: [null, "", "x", null] }),
    ev(3, {
      kind: "row_change",
      old_row: JSON.parse('{"b":"1","a":null,"10":"ten","2":"two","__proto__":"p"}'),
      new_row: { nested: { list: [1, 2.5, -0, 1e21, 5e-324, true, null, "s"] }, "🦀": "\u2028" },
      context: { who: "ada", why: ["ticket", 12], deep: { a: { b: { c: {} } } } },
    }),
    ev(4, {
      ts: Number.MAX_SAFE_INTEGER,
      ingest_ts: Number.MIN_SAFE_INTEGER,
      pid: Number.MAX_SAFE_INTEGER,
      xid: 0,
      statement_id: 2 ** 32,
      substatement_id: 2 ** 32 - 1,
    }),
    ev(5, { ts: -1, ingest_ts: 0, redacted: true, raw: "\u0000nul\u0000", parse_error: "bad" }),
    ev(6, {
      kind: "session",
      source_pos: "0/16B3748:3",
      db: "shop",
      schema: "public",
      object: "orders",
      object_type: "TABLE",
      role: "ada",
      app_user: "grace",
      client_addr: "::1",
      application_name: "psql",
      session_id: "66321c9e.1a2b",
      class: "READ",
      command: "SELECT",
      audit_type: "SESSION",
      sqlstate: "42501",
      error: "permission denied for table orders",
    }),
  ];
}

function manyEvents(n: number): AuditEvent[] {
  return Array.from({ length: n }, (_, i) => canonicalEvent(testEvent(i), i, T0 + i));
}

function assertSameCanonical(actual: AuditEvent[], expected: AuditEvent[]): void {
  assertEquals(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assertEquals(canonicalJson(actual[i]!), canonicalJson(expected[i]!), `event ${i}`);
  }
}

Deno.test("writeEventsParquet() round-trips awkward events to the same canonical JSON", async () => {
  const events = awkwardEvents();
  const bytes = await writeEventsParquet(events, fileMetaFor(events, 10));
  assertSameCanonical(await readParquetEvents(bytes), events);
});

Deno.test("writeEventsParquet() writes the same bytes for the same events, however batched", async () => {
  const events = [...awkwardEvents(), ...manyEvents(300).map((e) => ({ ...e, seq: e.seq + 7 }))];
  const meta = fileMetaFor(events, 10);
  const once = await writeEventsParquet(events, meta);
  // Several writes: an unordered map anywhere in the writer would show as differing bytes.
  for (let i = 0; i < 8; i++) {
    assertEquals(await writeEventsParquet(events.map((e) => ({ ...e })), meta), once, `write ${i}`);
  }
  const batches = [events.slice(0, 3), [], events.slice(3, 200), events.slice(200)];
  const streamed = await new Response(await parquetEventStream(batches, meta)).bytes();
  assertEquals(streamed, once);
});

Deno.test("writeEventsParquet() records its metadata and created_by in the footer", async () => {
  const events = awkwardEvents();
  const meta = fileMetaFor(events, 10);
  const footer = await readParquetFooter(await writeEventsParquet(events, meta));
  assertEquals(footer.rows, events.length);
  assertEquals(footer.createdBy, CREATED_BY);
  assert(!/\d{4}-\d{2}-\d{2}/.test(CREATED_BY), "no date in created_by");
  const raw = JSON.parse(footer.keyValue.get("vigil")!);
  assertEquals([raw.event_schema, raw.merkle_leaves, raw.checkpoint], [
    "2",
    [0, 10],
    fileMetaFor(events, 10).checkpoint,
  ]);
  assertEquals(decodeParquetMeta(footer.keyValue), meta);
});

Deno.test("writeEventsParquet() cuts row groups of ROW_GROUP_ROWS rows", async () => {
  const events = manyEvents(ROW_GROUP_ROWS + 1000);
  const bytes = await writeEventsParquet(events);
  const footer = await readParquetFooter(bytes);
  assertEquals(footer.rowGroups, [ROW_GROUP_ROWS, 1000]);
  assertEquals(decodeParquetMeta(footer.keyValue), undefined);
  const back = await readParquetEvents(bytes);
  assertEquals(back.length, events.length);
  for (const i of [0, ROW_GROUP_ROWS - 1, ROW_GROUP_ROWS, events.length - 1]) {
    assertEquals(canonicalJson(back[i]!), canonicalJson(events[i]!), `row ${i}`);
  }
});

Deno.test("writeEventsParquet() writes a readable file of no rows", async () => {
  const bytes = await writeEventsParquet([]);
  assertEquals((await readParquetFooter(bytes)).rows, 0);
  assertEquals(await readParquetEvents(bytes), []);
});

Deno.test("writeEventsParquet() refuses events that disagree with the metadata", async () => {
  const events = awkwardEvents();
  await assertRejects(() => writeEventsParquet(events.slice(1), fileMetaFor(events, 10)), {
    instanceOf: RangeError,
    message: "metadata says 7 (seq 0 to 6)",
  });
});

Deno.test("readParquetEvents() rejects bytes that are not Parquet", async () => {
  await assertRejects(() => readParquetEvents(new TextEncoder().encode("not parquet at all")), {
    instanceOf: SyntaxError,
    message: "Cannot read Parquet",
  });
});
