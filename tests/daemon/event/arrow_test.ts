import {
  DataType,
  type Dictionary,
  type List,
  Table,
  tableFromIPC,
  tableToIPC,
  TimeUnit,
} from "apache-arrow";
import {
  arrowRowToEvent,
  arrowTableEvents,
  eventArrowSchema,
  eventsToArrowTable,
} from "../../../daemon/event/arrow.ts";
import { canonicalJson } from "../../../daemon/event/canonical.ts";
import { type AuditEvent, EVENT_FIELDS, EVENT_KINDS } from "../../../daemon/event/model.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

const T0 = 1_714_550_400_123_456;

function ev(seq: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  return { seq, ts: T0 + seq, ingest_ts: T0 + seq + 7, source: "billing", kind: "app", ...extra };
}

/** Events covering every awkward value the round trip must keep. */
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
    ev(Number.MAX_SAFE_INTEGER - 10, {
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
      token: "ci-deployer",
    }),
  ];
}

function assertSameCanonical(actual: AuditEvent[], expected: AuditEvent[]): void {
  assertEquals(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assertEquals(canonicalJson(actual[i]!), canonicalJson(expected[i]!), `event ${i}`);
  }
}

Deno.test("eventArrowSchema() maps EVENT_FIELDS one-to-one and in order", () => {
  const schema = eventArrowSchema();
  assertEquals(schema.fields.map((f) => f.name), EVENT_FIELDS.map((f) => f.name));
  schema.fields.forEach((f, i) => assertEquals(f.nullable, !EVENT_FIELDS[i]!.required, f.name));
  assertEquals(schema.metadata.get("vigil.event_schema"), "2");
  assert(eventArrowSchema() === schema, "one shared schema");
});

Deno.test("eventArrowSchema() uses the documented Arrow type per field type", () => {
  const byName = new Map(eventArrowSchema().fields.map((f) => [f.name, f]));
  const type = (name: string): DataType => byName.get(name)!.type;
  for (const name of ["seq", "pid", "xid", "statement_id", "substatement_id"]) {
    const t = type(name);
    assert(DataType.isInt(t) && t.bitWidth === 64 && t.isSigned, name);
  }
  for (const name of ["ts", "ingest_ts"]) {
    const t = type(name);
    assert(DataType.isTimestamp(t) && t.unit === TimeUnit.MICROSECOND && t.timezone === "UTC");
  }
  for (const spec of EVENT_FIELDS.filter((f) => f.type === "string" || f.type === "kind")) {
    const t = type(spec.name);
    if (spec.lowCardinality) {
      assert(DataType.isDictionary(t), spec.name);
      const d = t as Dictionary;
      assert(DataType.isUtf8(d.dictionary) && d.indices.bitWidth === 32, spec.name);
    } else assert(DataType.isUtf8(t), spec.name);
  }
  const dictIds = EVENT_FIELDS.filter((f) => DataType.isDictionary(type(f.name)))
    .map((f) => (type(f.name) as Dictionary).id);
  assertEquals(new Set(dictIds).size, dictIds.length, "unique dictionary ids");
  for (const name of ["old_row", "new_row", "context"]) {
    assert(DataType.isUtf8(type(name)));
    assertEquals(byName.get(name)!.metadata.get("vigil.type"), "json");
  }
  assert(DataType.isBool(type("redacted")));
  const params = type("params") as List;
  assert(
    DataType.isList(params) && DataType.isUtf8(params.valueType) && params.valueField.nullable,
  );
});

Deno.test("eventsToArrowTable() round-trips awkward events to the same canonical JSON", () => {
  const events = awkwardEvents();
  const table = eventsToArrowTable(events);
  assertEquals(table.numRows, events.length);
  assertSameCanonical([...arrowTableEvents(table)], events);
  assertSameCanonical(events.map((_, i) => arrowRowToEvent(table, i)), events);
});

Deno.test("eventsToArrowTable() keeps empty strings, empty lists and {} apart from absent", () => {
  const table = eventsToArrowTable(awkwardEvents());
  const empty = arrowRowToEvent(table, 1);
  assertEquals(empty.statement, "");
  assertEquals(empty.db, "");
  assertEquals(empty.params, []);
  assertEquals(empty.context, {});
  assertEquals(empty.redacted, false);
  const bare = arrowRowToEvent(table, 0);
  assertEquals(Object.keys(bare), ["seq", "ts", "ingest_ts", "source", "kind"]);
  assertEquals(arrowRowToEvent(table, 2).params, [null, "", "x", null]);
});

Deno.test("eventsToArrowTable() stores JSON as JSON.stringify text, rebuilt key for key", () => {
  const events = awkwardEvents();
  const table = eventsToArrowTable(events);
  assertEquals(table.getChild("old_row")!.get(3), JSON.stringify(events[3]!.old_row));
  const back = arrowRowToEvent(table, 3);
  assertEquals(Object.keys(back.old_row!), Object.keys(events[3]!.old_row!));
  assert(Object.hasOwn(back.old_row!, "__proto__"), "__proto__ stays an own key");
  assertEquals(JSON.stringify(back.new_row), JSON.stringify(events[3]!.new_row));
});

Deno.test("eventsToArrowTable() keeps 64-bit integers and µs timestamps exact", () => {
  const events = awkwardEvents();
  const table = eventsToArrowTable(events);
  // Arrow's own reader sees the same 64-bit values as our reader.
  assertEquals(table.getChild("seq")!.get(4), BigInt(Number.MAX_SAFE_INTEGER - 10));
  assertEquals(table.getChild("pid")!.get(4), BigInt(Number.MAX_SAFE_INTEGER));
  assertEquals(table.getChild("statement_id")!.get(4), 2n ** 32n);
  assertEquals(table.getChild("pid")!.get(0), null);
  const back = arrowRowToEvent(table, 4);
  assertEquals([back.ts, back.ingest_ts, back.pid], [
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER,
  ]);
  assertEquals(arrowRowToEvent(table, 5).ts, -1);
  assertEquals(arrowRowToEvent(table, 0).ts, T0);
});

Deno.test("eventsToArrowTable() columns read the same through Arrow's own accessors", () => {
  const events = awkwardEvents();
  const table = eventsToArrowTable(events);
  events.forEach((e, i) => {
    assertEquals(table.getChild("statement")!.get(i), e.statement ?? null);
    assertEquals(table.getChild("kind")!.get(i), e.kind);
    assertEquals(table.getChild("db")!.get(i), e.db ?? null);
    assertEquals(table.getChild("redacted")!.get(i), e.redacted ?? null);
    const params = table.getChild("params")!.get(i);
    assertEquals(params === null ? undefined : [...params], e.params);
  });
});

Deno.test("eventsToArrowTable() dictionary-encodes low-cardinality columns", () => {
  const events = Array.from(
    { length: 1000 },
    (_, i) => ev(i, { kind: EVENT_KINDS[i % 3]!, role: i % 2 ? "ada" : "grace" }),
  );
  const table = eventsToArrowTable(events);
  const role = table.getChild("role")!.data[0]!;
  assertEquals(role.dictionary!.length, 2);
  assertEquals(table.getChild("kind")!.data[0]!.dictionary!.length, 3);
  assertSameCanonical([...arrowTableEvents(table)], events);
});

Deno.test("eventsToArrowTable() survives the Arrow IPC format byte for byte", () => {
  const events = awkwardEvents();
  for (const format of ["file", "stream"] as const) {
    const table = tableFromIPC(tableToIPC(eventsToArrowTable(events), format));
    assertSameCanonical([...arrowTableEvents(table)], events);
  }
});

Deno.test("arrowTableEvents() reads sliced tables and several batches", () => {
  const a = awkwardEvents();
  const b = a.map((e, i) => ({ ...e, seq: 100 + i, role: "other", kind: "ddl" as const }));
  const table = new Table([...eventsToArrowTable(a).batches, ...eventsToArrowTable(b).batches]);
  assertEquals(table.batches.length, 2);
  assertSameCanonical([...arrowTableEvents(table)], [...a, ...b]);
  assertSameCanonical([arrowRowToEvent(table, a.length + 2)], [b[2]!]);
  // A slice starts the validity and bool bitmaps mid-byte.
  const sliced = eventsToArrowTable(a).slice(3, 6);
  assertSameCanonical([...arrowTableEvents(sliced)], a.slice(3, 6));
  assertSameCanonical([arrowRowToEvent(sliced, 2)], [a[5]!]);
});

Deno.test("eventsToArrowTable() builds an empty table with the full schema", () => {
  const table = eventsToArrowTable([]);
  assertEquals(table.numRows, 0);
  assertEquals(table.schema.fields.length, EVENT_FIELDS.length);
  assertEquals([...arrowTableEvents(table)], []);
  const ipc = tableFromIPC(tableToIPC(table));
  assertEquals(ipc.numRows, 0);
});

Deno.test("arrowRowToEvent() throws RangeError for a row outside the table", () => {
  const table = eventsToArrowTable([ev(0)]);
  for (const row of [-1, 1, 0.5, NaN]) assertThrows(() => arrowRowToEvent(table, row), RangeError);
});

Deno.test("eventsToArrowTable() names the event and field of a value it cannot store", () => {
  const missing = { ...ev(0), ts: undefined } as unknown as AuditEvent;
  assertThrows(() => eventsToArrowTable([ev(0), missing]), {
    instanceOf: TypeError,
    message: 'event at index 1 to Arrow: field "ts" is missing',
  });
  const fractional = ev(0, { pid: 1.5 });
  assertThrows(() => eventsToArrowTable([fractional]), { instanceOf: TypeError, message: "pid" });
  const wrong = ev(0, { db: 5 as unknown as string });
  assertThrows(() => eventsToArrowTable([wrong]), { instanceOf: TypeError, message: '"db"' });
});

Deno.test("arrowTableEvents() refuses a table without a required column", () => {
  const table = eventsToArrowTable([ev(0)]).select(["seq", "ts", "source", "kind"]);
  assertThrows(() => [...arrowTableEvents(table)], {
    instanceOf: TypeError,
    message: 'no column "ingest_ts"',
  });
});

Deno.test("eventsToArrowTable() round-trips random events through IPC", () => {
  let seed = 1234;
  const rand = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) >>> 0;
    return Math.floor((seed / 2 ** 32) * n);
  };
  const pieces = ["", "a", "ü", "中", "🦀", "\n", '"', "\\", "\u0000", "\u2028", "xyz", "SELECT"];
  const text = (): string =>
    Array.from({ length: rand(6) }, () => pieces[rand(pieces.length)]).join("");
  const events: AuditEvent[] = [];
  for (let i = 0; i < 2000; i++) {
    const e: Record<string, unknown> = {
      seq: i,
      ts: rand(2) ? T0 + rand(1e9) : -rand(1e12),
      ingest_ts: T0 + i,
      source: `src${rand(3)}`,
      kind: EVENT_KINDS[rand(EVENT_KINDS.length)],
    };
    for (const spec of EVENT_FIELDS) {
      if (spec.required || rand(3) === 0) continue;
      if (spec.type === "string") e[spec.name] = text();
      else if (spec.type === "int") e[spec.name] = rand(2) ? rand(100) : Number.MAX_SAFE_INTEGER;
      else if (spec.type === "bool") e[spec.name] = rand(2) === 1;
      else if (spec.type === "strings") {
        e[spec.name] = Array.from({ length: rand(4) }, () => rand(4) ? text() : null);
      } else if (spec.type === "json") {
        e[spec.name] = { [text()]: text(), n: rand(1000) / 7, list: [text(), null, rand(2) === 1] };
      }
    }
    events.push(e as unknown as AuditEvent);
  }
  const table = tableFromIPC(tableToIPC(eventsToArrowTable(events)));
  assertSameCanonical([...arrowTableEvents(table)], events);
});
