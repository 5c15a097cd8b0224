import { canonicalJson } from "../../../daemon/event/canonical.ts";
import { type AuditEvent, EVENT_FIELD_NAMES } from "../../../daemon/event/model.ts";
import {
  EventLimitError,
  EventValidationError,
  formatRfc3339Micros,
  parseRfc3339Micros,
  validateEvent,
  type ValidateOptions,
} from "../../../daemon/event/validate.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

const INGEST = 1_714_550_400_000_000;
const OPTS: ValidateOptions = { source: "billing", ingestTs: INGEST };

function invalid(input: unknown, field: string | undefined, message: string): EventValidationError {
  const err = assertThrows(() => validateEvent(input, OPTS), EventValidationError);
  assertEquals(err.field, field);
  assert(err.message.includes(message), `message ${JSON.stringify(err.message)}`);
  return err;
}

Deno.test("validateEvent() fills source and ts from the options for a minimal event", () => {
  assertEquals(validateEvent({ kind: "app" }, OPTS), {
    ts: INGEST,
    source: "billing",
    kind: "app",
  });
});

Deno.test("validateEvent() returns keys in canonical order whatever the input order", () => {
  const ev = validateEvent(
    { statement: "SELECT 1", pid: 42, kind: "session", role: "ada", ts: 5, db: "shop" },
    OPTS,
  );
  const keys = Object.keys(ev);
  assertEquals(keys, EVENT_FIELD_NAMES.filter((n) => keys.includes(n)));
  assertEquals(keys, ["ts", "source", "kind", "db", "role", "pid", "statement"]);
});

Deno.test("validateEvent() rejects an unknown field with its name", () => {
  const err = invalid({ kind: "app", usr: "ada" }, "usr", "not an event field");
  assertEquals(err.message, 'field "usr": not an event field');
  assert(err instanceof TypeError);
  invalid(JSON.parse('{"kind":"app","__proto__":{"x":1}}'), "__proto__", "not an event field");
});

Deno.test("validateEvent() rejects seq and ingest_ts as store-assigned", () => {
  invalid({ kind: "app", seq: 3 }, "seq", "assigned by the store");
  invalid({ kind: "app", ingest_ts: 3 }, "ingest_ts", "assigned by the store");
  assertEquals(validateEvent({ kind: "app", seq: null, ingest_ts: null }, OPTS).ts, INGEST);
  // The posting token is Vigil's to set, from the request's credentials, never the input's.
  invalid({ kind: "app", token: "someone-else" }, "token", "set by Vigil");
});

Deno.test("validateEvent() takes source from the options and refuses a different one", () => {
  assertEquals(validateEvent({ kind: "app", source: "billing" }, OPTS).source, "billing");
  assertEquals(validateEvent({ kind: "app", source: null }, OPTS).source, "billing");
  invalid({ kind: "app", source: "other" }, "source", '"other" differs from the ingest source');
  invalid({ kind: "app", source: 7 }, "source", "differs");
});

Deno.test("validateEvent() reads ts as RFC 3339 text or integer µs", () => {
  const at = (ts: unknown): number => validateEvent({ kind: "app", ts }, OPTS).ts;
  assertEquals(at("2024-05-01T08:00:00.123456Z"), INGEST + 123_456);
  assertEquals(at("2024-05-01 10:00:00.123456+02"), INGEST + 123_456);
  assertEquals(at(INGEST + 1), INGEST + 1);
  assertEquals(at(-5), -5);
  assertEquals(at(null), INGEST);
});

Deno.test("validateEvent() names ts and the text when the time cannot be read", () => {
  const err = invalid({ kind: "app", ts: "yesterday" }, "ts", "");
  assert(err.message.startsWith('field "ts": not an RFC 3339 time: "yesterday"'), err.message);
  invalid({ kind: "app", ts: "2024-02-30T00:00:00Z" }, "ts", "no day 30");
  invalid({ kind: "app", ts: "2300-01-01T00:00:00Z" }, "ts", "outside the range");
  invalid({ kind: "app", ts: 1.5 }, "ts", "not an integer of µs");
  invalid({ kind: "app", ts: 2 ** 53 }, "ts", "not an integer of µs");
  invalid({ kind: "app", ts: true }, "ts", "not an RFC 3339 time or µs");
});

Deno.test("validateEvent() wants non-negative safe integers in int fields", () => {
  const max = Number.MAX_SAFE_INTEGER;
  const ev = validateEvent({ kind: "session", pid: 0, xid: max, statement_id: 1 }, OPTS);
  assertEquals([ev.pid, ev.xid, ev.statement_id], [0, max, 1]);
  invalid({ kind: "app", pid: -1 }, "pid", "not a non-negative integer: -1");
  invalid({ kind: "app", xid: 1.5 }, "xid", "not a non-negative integer: 1.5");
  invalid({ kind: "app", statement_id: "12" }, "statement_id", 'integer: "12"');
  invalid({ kind: "app", substatement_id: 2 ** 53 }, "substatement_id", "integer");
  invalid({ kind: "app", pid: NaN }, "pid", "NaN");
});

Deno.test("validateEvent() requires kind and lists the kinds", () => {
  invalid({}, "kind", "is required (one of session, object, row_change");
  invalid({ kind: null }, "kind", "is required");
  invalid({ kind: "login" }, "kind", 'not an event kind: "login"');
  invalid({ kind: "APP" }, "kind", "not an event kind");
});

Deno.test("validateEvent() treats null optional fields as absent and keeps empty strings", () => {
  const ev = validateEvent({ kind: "app", db: null, role: "", params: null, redacted: null }, OPTS);
  assertEquals(ev, { ts: INGEST, source: "billing", kind: "app", role: "" });
  assert(!("db" in ev) && !("params" in ev) && !("redacted" in ev));
});

Deno.test("validateEvent() rejects text with a lone surrogate, naming where", () => {
  invalid({ kind: "app", statement: "abc\ud800" }, "statement", "lone surrogate at index 3");
  invalid({ kind: "app", statement: "\udc00x" }, "statement", "index 0");
  invalid({ kind: "app", params: ["ok", "x\ud83d"] }, "params", "element 1 is not valid Unicode");
  invalid({ kind: "app", context: { who: "\ud800" } }, "context", "at .who is not valid");
  invalid({ kind: "app", context: { ["k\udfff"]: 1 } }, "context", "key .k");
  const ev = validateEvent({ kind: "app", statement: "emoji 🦀 ünï 中文" }, OPTS);
  assertEquals(ev.statement, "emoji 🦀 ünï 中文");
});

Deno.test("validateEvent() checks the type of string, bool and params fields", () => {
  invalid({ kind: "app", db: 5 }, "db", "not a string: 5");
  invalid({ kind: "app", redacted: "yes" }, "redacted", 'not true or false: "yes"');
  invalid({ kind: "app", params: "a" }, "params", "not an array of strings (got string)");
  invalid({ kind: "app", params: ["a", 1] }, "params", "element 1 is not a string or null: 1");
  // deno-lint-ignore no-sparse-arrays
  invalid({ kind: "app", params: ["a", , "b"] }, "params", "element 1");
  const ev = validateEvent({ kind: "app", params: [null, "", "x"], redacted: false }, OPTS);
  assertEquals(ev.params, [null, "", "x"]);
  assertEquals(ev.redacted, false);
});

Deno.test("validateEvent() accepts JSON objects and rejects other JSON fields", () => {
  const row = { id: "1", tags: ["a", null, 2.5, { deep: true }], n: null };
  assertEquals(validateEvent({ kind: "row_change", new_row: row }, OPTS).new_row, row);
  invalid({ kind: "app", context: [1] }, "context", "not a JSON object (got array)");
  invalid({ kind: "app", context: "x" }, "context", "not a JSON object (got string)");
  invalid({ kind: "app", old_row: new Date(0) }, "old_row", "(got Date)");
  invalid({ kind: "app", context: { n: Infinity } }, "context", "not a finite number at .n");
  invalid({ kind: "app", context: { a: [0, NaN] } }, "context", "at .a[1]");
  invalid({ kind: "app", context: { f: () => 1 } }, "context", "not a JSON value at .f");
  invalid({ kind: "app", context: { u: undefined } }, "context", "not a JSON value at .u");
});

Deno.test("validateEvent() rejects JSON nested too deep with a RangeError", () => {
  let deep: Record<string, unknown> = { end: true };
  for (let i = 0; i < 100; i++) deep = { d: deep };
  const err = assertThrows(() => validateEvent({ kind: "app", context: deep }, OPTS), RangeError);
  assert(err instanceof EventLimitError);
  assertEquals(err.field, "context");
});

Deno.test("validateEvent() limits text fields by UTF-8 bytes, not characters", () => {
  const opts = { ...OPTS, maxFieldBytes: 8 };
  assertEquals(validateEvent({ kind: "app", statement: "éééé" }, opts).statement, "éééé");
  assertEquals(validateEvent({ kind: "app", raw: "🦀🦀" }, opts).raw, "🦀🦀");
  const err = assertThrows(
    () => validateEvent({ kind: "app", statement: "ééééé" }, opts),
    EventLimitError,
  );
  assert(err instanceof RangeError);
  assertEquals(err.field, "statement");
  assertEquals(err.message, 'field "statement": larger than the limit of 8 bytes');
  assertThrows(() => validateEvent({ kind: "app", raw: "🦀🦀x" }, opts), RangeError);
  assertThrows(() => validateEvent({ kind: "app", params: ["12345", "6789"] }, opts), RangeError);
  assertThrows(() => validateEvent({ kind: "app", context: { abcd: "efghi" } }, opts), RangeError);
});

Deno.test("validateEvent() rejects a statement over the default 16 MiB", () => {
  const big = "x".repeat(16 * 1024 * 1024);
  assertEquals(validateEvent({ kind: "app", statement: big }, OPTS).statement?.length, big.length);
  const err = assertThrows(
    () => validateEvent({ kind: "app", statement: big + "x" }, OPTS),
    RangeError,
  );
  assert(err.message.includes("16777216"), err.message);
});

Deno.test("validateEvent() rejects anything but a plain object as the event", () => {
  for (
    const [input, got] of [[null, "null"], [[], "array"], ["{}", "string"], [new Map(), "Map"]]
  ) {
    const err = invalid(input, undefined, `not a JSON object (got ${got})`);
    assert(err.message.startsWith("event: "), err.message);
  }
  assertEquals(
    validateEvent(Object.assign(Object.create(null), { kind: "app" }), OPTS).kind,
    "app",
  );
});

Deno.test("validateEvent() throws a plain TypeError for bad options", () => {
  for (
    const opts of [
      { source: "", ingestTs: 0 },
      { source: "a", ingestTs: 1.5 },
      { source: "a", ingestTs: 0, maxFieldBytes: 0 },
    ]
  ) {
    const err = assertThrows(() => validateEvent({ kind: "app" }, opts), TypeError);
    assert(!(err instanceof EventValidationError), err.message);
  }
});

Deno.test("validateEvent() output encodes canonically with every field set", () => {
  const input = {
    ts: "2024-05-01T08:00:00.000001Z",
    source: "billing",
    source_pos: "0/16B3748:1",
    kind: "object",
    db: "shop",
    schema: "public",
    object: "orders",
    object_type: "TABLE",
    role: "ada",
    app_user: "grace",
    client_addr: "10.0.0.1",
    application_name: "psql",
    session_id: "66321c9e.1a2b",
    pid: 6699,
    xid: 771,
    class: "READ",
    command: "SELECT",
    audit_type: "OBJECT",
    statement_id: 1,
    substatement_id: 2,
    statement: "SELECT * FROM orders WHERE id = $1",
    params: ["7"],
    old_row: { id: "7" },
    new_row: { id: "8" },
    context: { why: "ticket 12" },
    sqlstate: "00000",
    error: "",
    redacted: true,
    raw: "raw",
    parse_error: "none",
    rows: 12,
  };
  const ev = validateEvent(input, OPTS);
  const stored: AuditEvent = { seq: 0, ingest_ts: INGEST, ...ev } as AuditEvent;
  // `token` is not taken from input: Vigil stamps it (`web/token_events.ts`).
  const json = JSON.parse(canonicalJson({ ...stored, token: "billing" }));
  assertEquals(Object.keys(json), [...EVENT_FIELD_NAMES]);
  assertEquals(formatRfc3339Micros(json.ts), input.ts);
  assertEquals(json.ts, parseRfc3339Micros(input.ts));
});

Deno.test("validateEvent() redacts secrets in statement, params, error and raw (API, ingest, UI)", () => {
  const ev = validateEvent({
    kind: "app",
    statement: "ALTER ROLE ada PASSWORD 'hunter2'",
    params: ["host=db password=hunter3", null],
    error: "cannot connect to postgres://ada:hunter4@db/x",
    raw: "CREATE USER MAPPING FOR ada SERVER s OPTIONS (password 'hunter5')",
    redacted: false,
  }, OPTS);
  assertEquals(ev.statement, "ALTER ROLE ada PASSWORD <REDACTED>");
  assertEquals(ev.params, ["host=db password=<REDACTED>", null]);
  assertEquals(ev.error, "cannot connect to postgres://ada:<REDACTED>@db/x");
  assertEquals(ev.raw, "CREATE USER MAPPING FOR ada SERVER s OPTIONS (password <REDACTED>)");
  assertEquals(ev.redacted, true, "an input's redacted: false does not survive a redaction");
  const keys = Object.keys(ev);
  assertEquals(keys, EVENT_FIELD_NAMES.filter((n) => keys.includes(n)), "canonical order");
  for (const secret of ["hunter2", "hunter3", "hunter4", "hunter5"]) {
    assert(!canonicalJson(ev as AuditEvent).includes(secret), secret);
  }
  // Nothing to redact: no flag is added, and an empty rule list turns redaction off.
  assertEquals(validateEvent({ kind: "app", statement: "SELECT 1" }, OPTS).redacted, undefined);
  const off = validateEvent({ kind: "app", statement: "ALTER ROLE a PASSWORD 'x'" }, {
    ...OPTS,
    redaction: [],
  });
  assertEquals(off.statement, "ALTER ROLE a PASSWORD 'x'");
});
