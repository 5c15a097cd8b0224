import {
  canonicalEvent,
  canonicalJson,
  decodeEvent,
  encodeEvent,
} from "../../../daemon/event/canonical.ts";
import { type AuditEvent, EVENT_FIELD_NAMES } from "../../../daemon/event/model.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";

const enc = new TextEncoder();

function ev(extra: Record<string, unknown> = {}): AuditEvent {
  return { seq: 1, ts: 2, ingest_ts: 3, source: "s", kind: "app", ...extra } as AuditEvent;
}

Deno.test("canonicalJson() writes keys in schema order whatever the object order", () => {
  const shuffled = {
    statement: "SELECT 1",
    kind: "ddl",
    pid: 9,
    seq: 4,
    source: "s",
    ingest_ts: 6,
    ts: 5,
    role: "ada",
  } as AuditEvent;
  assertEquals(
    canonicalJson(shuffled),
    '{"seq":4,"ts":5,"ingest_ts":6,"source":"s","kind":"ddl","role":"ada","pid":9,' +
      '"statement":"SELECT 1"}',
  );
});

Deno.test("canonicalJson() omits undefined and null fields but keeps empty values", () => {
  const text = canonicalJson(ev({ db: undefined, role: null, statement: "", params: [] }));
  assertEquals(
    text,
    '{"seq":1,"ts":2,"ingest_ts":3,"source":"s","kind":"app","statement":"",' +
      '"params":[]}',
  );
});

Deno.test("canonicalJson() ignores properties that are not schema fields", () => {
  assertEquals(canonicalJson(ev({ extra: 1 })), canonicalJson(ev()));
});

Deno.test("canonicalJson() leaves non-ASCII text unescaped and escapes controls", () => {
  const text = canonicalJson(ev({ statement: 'ü🦀\n"\u0000' }));
  assertEquals(text.slice(text.indexOf('"statement"')), '"statement":"ü🦀\\n\\"\\u0000"}');
});

Deno.test("canonicalJson() keeps nested JSON in JSON.stringify form and order", () => {
  const context = { b: 1, a: [true, null, { z: "1", y: 2.5 }], "2": "two" };
  const text = canonicalJson(ev({ context }));
  assertEquals(text.slice(text.indexOf('"context"')), `"context":${JSON.stringify(context)}}`);
});

Deno.test("canonicalJson() with every field set lists them all in schema order", () => {
  const full: Record<string, unknown> = {};
  for (const name of [...EVENT_FIELD_NAMES].reverse()) full[name] = name === "kind" ? "app" : 1;
  assertEquals(Object.keys(JSON.parse(canonicalJson(full as unknown as AuditEvent))), [
    ...EVENT_FIELD_NAMES,
  ]);
});

Deno.test("encodeEvent() returns the UTF-8 bytes of canonicalJson()", () => {
  const e = ev({ statement: "中文 🦀" });
  assertEquals(encodeEvent(e), enc.encode(canonicalJson(e)));
});

Deno.test("decodeEvent() inverts encodeEvent() byte for byte", () => {
  const events = [
    ev(),
    ev({ statement: "é\u2028", params: [null, "x"], old_row: { a: "1" }, redacted: false }),
    ev({ ts: -1, pid: Number.MAX_SAFE_INTEGER, context: { deep: { list: [1, 2.5, "x"] } } }),
  ];
  for (const e of events) {
    const bytes = encodeEvent(e);
    assertEquals(encodeEvent(decodeEvent(bytes)), bytes);
    assertEquals(decodeEvent(bytes), JSON.parse(canonicalJson(e)));
  }
});

Deno.test("decodeEvent() throws SyntaxError for bytes that are not a JSON object", () => {
  assertThrows(() => decodeEvent(Uint8Array.of(0x7b, 0xff, 0x7d)), {
    instanceOf: SyntaxError,
    message: "not valid UTF-8",
  });
  assertThrows(() => decodeEvent(enc.encode("[]")), { instanceOf: SyntaxError, message: "object" });
  assertThrows(() => decodeEvent(enc.encode("null")), SyntaxError);
  assertThrows(() => decodeEvent(enc.encode('{"seq":')), SyntaxError);
});

Deno.test("canonicalEvent() lists every schema field, in EVENT_FIELDS order", () => {
  const keys = Object.keys(canonicalEvent({}, 0, 0));
  assertEquals(keys, [...EVENT_FIELD_NAMES]);
});

Deno.test("an event without token encodes to the bytes it had before the field existed", () => {
  // Canonical bytes of an event with every field that came before `token`, as stored by
  // releases without it: they must decode and re-encode unchanged, and the hash stays the same.
  const old = '{"seq":7,"ts":1,"ingest_ts":2,"source":"api","source_pos":"p","kind":"app",' +
    '"db":"d","schema":"s","object":"o","object_type":"TABLE","role":"r","app_user":"u",' +
    '"client_addr":"::1","application_name":"a","session_id":"x","pid":1,"xid":2,' +
    '"class":"READ","command":"SELECT","audit_type":"SESSION","statement_id":3,' +
    '"substatement_id":4,"statement":"SELECT 1","params":["1",null],"old_row":{"a":"1"},' +
    '"new_row":{"a":"2"},"context":{"vigil_token":{"id":1}},"sqlstate":"00000","error":"e",' +
    '"redacted":true,"raw":"r","parse_error":"p"}';
  assertEquals(new TextDecoder().decode(encodeEvent(decodeEvent(enc.encode(old)))), old);
  // The new field goes last, after every old one.
  const stamped = canonicalJson({ ...decodeEvent(enc.encode(old)), token: "ci" });
  assertEquals(stamped, old.slice(0, -1) + ',"token":"ci"}');
});

Deno.test("encodeEvent() gives the bytes of the original schema when rows is absent", () => {
  // Written before `rows` existed: an event of every original field must keep these bytes,
  // or old segments, proofs and bundles would stop verifying.
  const original = '{"seq":7,"ts":1,"ingest_ts":2,"source":"s","source_pos":"0/1:0",' +
    '"kind":"object","db":"d","schema":"public","object":"public.t","object_type":"TABLE",' +
    '"role":"r","app_user":"u","client_addr":"10.0.0.1","application_name":"psql",' +
    '"session_id":"a.b","pid":3,"xid":4,"class":"READ","command":"SELECT",' +
    '"audit_type":"SESSION","statement_id":1,"substatement_id":1,"statement":"SELECT 1",' +
    '"params":["x",null],"old_row":{"a":"1"},"new_row":{"a":"2"},"context":{"k":"v"},' +
    '"sqlstate":"00000","error":"e","redacted":true,"raw":"r","parse_error":"p"}';
  const e = JSON.parse(original) as AuditEvent;
  assertEquals(canonicalJson(e), original);
  assertEquals(encodeEvent(decodeEvent(enc.encode(original))), enc.encode(original));
  assertEquals(canonicalJson({ ...e, rows: 250 }), original.slice(0, -1) + ',"rows":250}');
});
