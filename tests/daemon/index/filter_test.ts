import assert from "node:assert/strict";
import type { EventKind } from "../../../daemon/event/model.ts";
import {
  compileFilter,
  type EventFilter,
  matchesFilter,
  MAX_TEXT_TOKENS,
  selectEvents,
} from "../../../daemon/index/filter.ts";
import { event, seqs, T0 } from "./_events.ts";

const ev = event(7, {
  source: "billing-log",
  kind: "object",
  role: "alice",
  db: "billing",
  object: "public.invoices",
  command: "SELECT",
  statement: "SELECT * FROM public.invoices WHERE Amount > 100",
});

Deno.test("matchesFilter() compares source, kind, role, db and object exactly", () => {
  assert.ok(matchesFilter(ev, { source: "billing-log", kind: "object", role: "alice" }));
  assert.ok(matchesFilter(ev, { db: "billing", object: "public.invoices" }));
  assert.ok(!matchesFilter(ev, { role: "Alice" }));
  assert.ok(!matchesFilter(ev, { source: "billing" }));
  assert.ok(!matchesFilter(ev, { object: "invoices" }));
  assert.ok(!matchesFilter(event(1), { role: "alice" }), "absent field never matches");
  assert.ok(!matchesFilter(event(1), { role: "" }));
  assert.ok(matchesFilter(event(1, { role: "" }), { role: "" }));
});

Deno.test("matchesFilter() compares command case-insensitively", () => {
  assert.ok(matchesFilter(ev, { command: "select" }));
  assert.ok(matchesFilter(ev, { command: "SeLeCt" }));
  assert.ok(!matchesFilter(ev, { command: "sel" }));
  assert.ok(matchesFilter(event(1, { command: "DROP TABLE" }), { command: "drop table" }));
});

Deno.test("matchesFilter() bounds ts with from inclusive and to exclusive", () => {
  assert.ok(matchesFilter(ev, { from: ev.ts }));
  assert.ok(!matchesFilter(ev, { from: ev.ts + 1 }));
  assert.ok(matchesFilter(ev, { to: ev.ts + 1 }));
  assert.ok(!matchesFilter(ev, { to: ev.ts }));
  assert.ok(matchesFilter(ev, { from: T0, to: T0 + 10_000_000 }));
});

Deno.test("matchesFilter() pages by seq with afterSeq and beforeSeq, both exclusive", () => {
  assert.ok(matchesFilter(ev, { afterSeq: 6 }));
  assert.ok(!matchesFilter(ev, { afterSeq: 7 }));
  assert.ok(matchesFilter(ev, { beforeSeq: 8 }));
  assert.ok(!matchesFilter(ev, { beforeSeq: 7 }));
});

Deno.test("matchesFilter() needs every text token as a case-insensitive substring", () => {
  assert.ok(matchesFilter(ev, { text: "invoices amount" }));
  assert.ok(matchesFilter(ev, { text: "VOICE  >" }));
  assert.ok(!matchesFilter(ev, { text: "invoices payments" }));
  assert.ok(matchesFilter(ev, { text: "   " }), "blank text is no condition");
  assert.ok(matchesFilter(event(1), { text: "" }));
  assert.ok(!matchesFilter(event(1), { text: "x" }), "no searchable text, no match");
  assert.ok(matchesFilter(event(1, { error: "permission denied" }), { text: "DENIED" }));
});

Deno.test("matchesFilter() does not let a token span statement and error", () => {
  const e = event(1, { statement: "select ab", error: "cd" });
  assert.ok(matchesFilter(e, { text: "ab cd" }));
  assert.ok(!matchesFilter(e, { text: "abcd" }));
});

Deno.test("matchesFilter() ignores fields set to undefined", () => {
  const f: EventFilter = { role: undefined, text: undefined, limit: undefined };
  assert.ok(matchesFilter(ev, f));
});

Deno.test("compileFilter() rejects bad values with a message naming them", () => {
  assert.throws(() => compileFilter({ kind: "nope" as EventKind }), {
    name: "TypeError",
    message: /kind="nope"/,
  });
  assert.throws(() => compileFilter({ limit: -1 }), { name: "RangeError", message: /limit=-1/ });
  assert.throws(() => compileFilter({ limit: 1.5 }), { name: "TypeError" });
  assert.throws(() => compileFilter({ from: Number.NaN }), { name: "TypeError" });
  assert.throws(() => compileFilter({ order: "up" as "asc" }), { name: "TypeError" });
  assert.throws(() => compileFilter({ role: 5 as unknown as string }), { name: "TypeError" });
  const many = Array.from({ length: MAX_TEXT_TOKENS + 1 }, (_, i) => `t${i}`).join(" ");
  assert.throws(() => compileFilter({ text: many }), {
    name: "RangeError",
    message: /65 distinct/,
  });
  assert.equal(compileFilter({ text: many.replace(/t\d+/g, "same") }).tokens.length, 1);
});

Deno.test("selectEvents() orders by seq and applies the limit after ordering", () => {
  const events = [event(3), event(1), event(2), event(5), event(4)];
  assert.deepEqual(seqs(selectEvents(events, {})), [1, 2, 3, 4, 5]);
  assert.deepEqual(seqs(selectEvents(events, { order: "desc", limit: 2 })), [5, 4]);
  assert.deepEqual(seqs(selectEvents(events, { limit: 2, afterSeq: 2 })), [3, 4]);
  assert.deepEqual(seqs(selectEvents(events, { limit: 0 })), []);
});
