/**
 * Property test: the SQLite index and the in-memory matcher select the same events for random
 * events and filters. The CLI joins answers from both, so any disagreement is a wrong result.
 * Values come from small pools that mix case, Unicode with tricky case mappings, lone
 * surrogates, NUL and FTS5 syntax, so that matches and near misses are both common.
 */

import assert from "node:assert/strict";
import { type AuditEvent, EVENT_KINDS } from "../../../daemon/event/model.ts";
import { type EventFilter, selectEvents } from "../../../daemon/index/filter.ts";
import { event, prng, records, searched, seqs, T0, withIndex } from "./_events.ts";

const SOURCES = ["billing", "Billing", "app", "x\ud800"];
const ROLES = [undefined, "alice", "ALICE", "bob", "ünï", "x\ud800", "x\udc00", ""];
const DBS = [undefined, "billing", "hr"];
const OBJECTS = [undefined, "public.t", "public.T", 's."q"'];
const COMMANDS = [undefined, "SELECT", "select", "Select", "DROP TABLE", "İNSERT", "insert", "ß"];
const CHARS = ["a", "b", "A", "B", "é", "É", "İ", "ı", "ß", "😀", " ", "\n", '"', "*", "(", "-"];
const RARE_CHARS = ["\0", "\ud800", "'", ":", "^", "NEAR(", " OR ", "Σ", "ς"];
const SPAN = 100_000_000;

type Rand = () => number;

function pick<T>(rand: Rand, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

function randomText(rand: Rand, maxLen: number): string {
  let s = "";
  const n = Math.floor(rand() * maxLen);
  for (let i = 0; i < n; i++) s += rand() < 0.1 ? pick(rand, RARE_CHARS) : pick(rand, CHARS);
  return s;
}

function randomEvent(rand: Rand, seq: number): AuditEvent {
  const ev = event(seq, {
    ts: T0 + Math.floor(rand() * SPAN),
    source: pick(rand, SOURCES),
    kind: pick(rand, EVENT_KINDS),
  });
  const set = <K extends keyof AuditEvent>(k: K, v: AuditEvent[K] | undefined): void => {
    if (v !== undefined) ev[k] = v;
  };
  set("role", pick(rand, ROLES));
  set("db", pick(rand, DBS));
  set("object", pick(rand, OBJECTS));
  set("command", pick(rand, COMMANDS));
  if (rand() < 0.8) set("statement", randomText(rand, 40));
  if (rand() < 0.2) set("error", randomText(rand, 12));
  if (rand() < 0.2) {
    set("raw", randomText(rand, 20));
    if (rand() < 0.5) set("parse_error", "cannot parse");
  }
  if (rand() < 0.2) set("token", randomText(rand, 8));
  return ev;
}

/** A token that often occurs: a piece of some event's text, its case changed at random. */
function randomToken(rand: Rand, events: readonly AuditEvent[]): string {
  const r = rand();
  if (r < 0.2) return randomText(rand, 5);
  const src = pick(rand, events);
  const text = (r < 0.8 ? src.statement : r < 0.9 ? src.error : src.raw) ?? "";
  const start = Math.floor(rand() * (text.length + 1));
  const piece = text.slice(start, start + 1 + Math.floor(rand() * 6));
  return rand() < 0.3 ? piece.toUpperCase() : piece;
}

function randomFilter(rand: Rand, events: readonly AuditEvent[]): EventFilter {
  const f: EventFilter = {};
  const maybe = (p: number): boolean => rand() < p;
  if (maybe(0.25)) f.source = pick(rand, SOURCES);
  if (maybe(0.2)) f.kind = pick(rand, EVENT_KINDS);
  if (maybe(0.25)) f.role = pick(rand, ROLES);
  if (maybe(0.15)) f.db = pick(rand, DBS);
  if (maybe(0.15)) f.object = pick(rand, OBJECTS);
  if (maybe(0.25)) f.command = pick(rand, [...COMMANDS, "sElEcT", "drop table", "İnsert"]);
  if (maybe(0.3)) f.from = T0 + Math.floor(rand() * SPAN);
  if (maybe(0.3)) f.to = T0 + Math.floor(rand() * SPAN);
  if (maybe(0.5)) {
    const n = 1 + Math.floor(rand() * 3);
    f.text = Array.from({ length: n }, () => randomToken(rand, events)).join(
      pick(rand, [" ", "\t"]),
    );
  }
  if (maybe(0.3)) f.limit = Math.floor(rand() * 20);
  if (maybe(0.5)) f.order = pick(rand, ["asc", "desc"] as const);
  if (maybe(0.15)) f.afterSeq = Math.floor(rand() * events.length) - 1;
  if (maybe(0.15)) f.beforeSeq = Math.floor(rand() * events.length);
  return f;
}

function shuffled<T>(rand: Rand, xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

for (const seed of [1, 2, 3, 4, 5]) {
  Deno.test(`EventIndex.seqs() agrees with selectEvents() on random input (seed ${seed})`, async () => {
    const rand = prng(seed);
    const events = Array.from({ length: 400 }, (_, i) => randomEvent(rand, i));
    await withIndex((index) => {
      // Out of seq order and in uneven batches, as a re-feed after a crash might be.
      const order = shuffled(rand, events);
      for (let i = 0; i < order.length; i += 37) index.add(records(order.slice(i, i + 37)));
      for (let i = 0; i < 400; i++) {
        const f = randomFilter(rand, events);
        const where = `seed ${seed}, filter ${i}: ${JSON.stringify(f)}`;
        assert.deepEqual(searched(index, events, f), seqs(selectEvents(events, f)), where);
        const all = seqs(selectEvents(events, { ...f, limit: undefined }));
        const nominated = new Set(index.seqs({ ...f, limit: undefined }));
        assert.ok(all.every((s) => nominated.has(s)), `every match nominated: ${where}`);
        if (f.text === undefined) {
          assert.deepEqual(index.seqs(f), seqs(selectEvents(events, f)), where);
          assert.equal(index.count(f), all.length, where);
        } else assert.ok(index.count(f) >= all.length, where);
      }
    });
  });
}
