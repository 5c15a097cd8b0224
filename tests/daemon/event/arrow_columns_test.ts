/**
 * The column builder against its oracle, the simpler builder it replaced
 * (`arrow_reference.ts`): on random events the two must give the same Arrow IPC bytes, which
 * is exactly what parquet-wasm is handed, so the Parquet files are the same too.
 */

import { tableToIPC } from "apache-arrow";
import { BufferPool, eventsToArrowTable } from "../../../daemon/event/arrow.ts";
import { canonicalEvent } from "../../../daemon/event/canonical.ts";
import { type AuditEvent, EVENT_FIELDS, EVENT_KINDS } from "../../../daemon/event/model.ts";
import { type Random, seededRandom } from "../../../daemon/detect/prng.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";
import { referenceEventsToArrowTable } from "./arrow_reference.ts";

const PIECES = [
  "a",
  "Z",
  "0",
  " ",
  "'",
  '"',
  "\\",
  "\n",
  "\t",
  "\u0000",
  "\u007f",
  "é",
  "ü",
  "ß",
  "中文",
  "🦀",
  "\u2028",
  "\ud800",
  "\udfff",
  "\ufffd",
  "\uffff",
  "SELECT ",
  "public.",
  "x".repeat(50),
];

function pick<T>(r: Random, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Mostly ASCII (the fast path), sometimes Unicode or lone surrogates, now and then huge. */
function text(r: Random, ascii: boolean): string {
  const roll = r();
  if (roll < 0.02) return "";
  if (roll < 0.022) return "q".repeat(100_000 + Math.floor(r() * 1000));
  let s = "";
  for (let k = Math.floor(r() * 8); k >= 0; k--) {
    const p = pick(r, PIECES);
    s += ascii && !isAscii(p) ? "?" : p;
  }
  return s;
}

function integer(r: Random): number {
  return pick(r, [
    0,
    -1,
    1,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 32,
    2 ** 32 - 1,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
    Math.floor((r() - 0.5) * 2 ** 53),
  ]);
}

function json(r: Random, ascii: boolean, depth = 0): unknown {
  const roll = r();
  if (depth > 2 || roll < 0.3) return pick(r, [null, true, 0, -0.5, 1e21, 5e-324, text(r, ascii)]);
  if (roll < 0.5) {
    return Array.from({ length: Math.floor(r() * 4) }, () => json(r, ascii, depth + 1));
  }
  const o: Record<string, unknown> = {};
  for (let k = Math.floor(r() * 4); k > 0; k--) o[text(r, ascii)] = json(r, ascii, depth + 1);
  return o;
}

/** A random event: each optional field present half the time, keys in varying order. */
function randomEvent(r: Random, seq: number, ascii: boolean): AuditEvent {
  const e: Record<string, unknown> = {};
  for (const spec of EVENT_FIELDS) {
    if (!spec.required && r() < 0.5) continue;
    switch (spec.type) {
      case "int":
      case "ts":
        e[spec.name] = spec.name === "seq" ? seq : integer(r);
        break;
      case "bool":
        e[spec.name] = r() < 0.5;
        break;
      case "kind":
        e[spec.name] = pick(r, EVENT_KINDS);
        break;
      case "string":
        e[spec.name] = spec.lowCardinality ? pick(r, ["a", "b", "", "é", "ä"]) : text(r, ascii);
        break;
      case "strings":
        e[spec.name] = Array.from(
          { length: Math.floor(r() * 4) },
          () => r() < 0.2 ? null : text(r, ascii),
        );
        break;
      case "json":
        e[spec.name] = Object.fromEntries([["k", json(r, ascii)], [
          text(r, ascii),
          json(r, ascii),
        ]]);
        break;
    }
  }
  // Half canonical (one shape), half in the order built above or reversed (many shapes).
  if (r() < 0.5) return canonicalEvent(e as Partial<AuditEvent>);
  const entries = Object.entries(e);
  return Object.fromEntries(r() < 0.5 ? entries : entries.reverse()) as unknown as AuditEvent;
}

function assertSameAsReference(events: AuditEvent[], label: string): void {
  const actual = tableToIPC(eventsToArrowTable(events), "stream");
  const expected = tableToIPC(referenceEventsToArrowTable(events), "stream");
  assertEquals(actual.length, expected.length, `${label}: IPC length`);
  assert(actual.every((b, i) => b === expected[i]), `${label}: IPC bytes differ`);
}

Deno.test("eventsToArrowTable() gives the reference builder's buffers on random events", () => {
  const r = seededRandom(20261204);
  for (let round = 0; round < 30; round++) {
    // Sizes around the block size and nothing; columns all ASCII in some rounds, mixed in others.
    const n = pick(r, [0, 1, 2, 7, 60, 1023, 1024, 1025, 2100]);
    const ascii = r() < 0.5;
    const events = Array.from({ length: n }, (_, i) => randomEvent(r, i, ascii));
    assertSameAsReference(events, `round ${round} (${n} events, ascii ${ascii})`);
  }
});

Deno.test("eventsToArrowTable() from a BufferPool gives the reference buffers, build after build", () => {
  const r = seededRandom(20261205);
  const pool = new BufferPool();
  // Longer and shorter builds in turn, so that reused memory holds the last build's values.
  for (let round = 0; round < 12; round++) {
    const n = pick(r, [0, 1, 60, 1025, 2100, 3000]);
    const ascii = r() < 0.5;
    const events = Array.from({ length: n }, (_, i) => randomEvent(r, i, ascii));
    const actual = tableToIPC(eventsToArrowTable(events, pool), "stream");
    const expected = tableToIPC(referenceEventsToArrowTable(events), "stream");
    assertEquals(actual.length, expected.length, `round ${round}: IPC length`);
    assert(actual.every((b, i) => b === expected[i]), `round ${round}: IPC bytes differ`);
  }
});

Deno.test("eventsToArrowTable() encodes each string on its own: lone surrogates never pair", () => {
  const base = { ts: 1, ingest_ts: 2, source: "s", kind: "app" } as const;
  const events: AuditEvent[] = [
    { seq: 0, ...base, statement: "a\ud83d", params: ["\ud83d", "\ude00"] },
    { seq: 1, ...base, statement: "\ude00b", params: [null, "🦀"] },
  ];
  assertSameAsReference(events, "surrogates");
  const table = eventsToArrowTable(events);
  const statement = table.getChild("statement")!;
  assertEquals([statement.get(0), statement.get(1)], ["a\ufffd", "\ufffdb"]);
});

Deno.test("eventsToArrowTable() names the event and field of a bad value past the first block", () => {
  const r = seededRandom(7);
  const events = Array.from({ length: 3000 }, (_, i) => randomEvent(r, i, true));
  events[2500] = { ...events[2500]!, redacted: "yes" as unknown as boolean };
  assertThrows(() => eventsToArrowTable(events), {
    instanceOf: TypeError,
    message: 'index 2500 to Arrow: field "redacted"',
  });
});
