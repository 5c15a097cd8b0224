/**
 * Text spans: the full-text table (`events_text`, `schema.ts`) holds one row for each run of
 * events that `add()` writes together within an aligned block of {@link TEXT_SPAN} seqs, not one
 * per event. Neighbouring events share most trigrams (the same statements, tables, roles and
 * digits), so a trigram's posting is written once for the run instead of once an event: on the
 * scale bench's mix, spans of 8 took about half the bytes of per-event rows and half the time to
 * insert, and spans of 16 (schema 7) another 12–17% of the writer's CPU in `vigil reindex` (1.43M
 * events), 93 → 87 index bytes an event (`bench search`, 1M), for text searches that test up to
 * twice the events a matching row nominates (`bench search` p95 at 1M, text + role + day: 14–18
 * → 18–21 ms). The row's `rowid` is its first event's seq; its body is the distinct lines of its
 * events' folded searchable texts.
 *
 * What a match of a span row nominates is every indexed event of its block from its `rowid` on:
 * a superset of the events whose own text holds the trigrams, which the log narrows to the exact
 * answer as it already does for trigrams (`search.ts`). A `rowid` is never reused: `add()` writes
 * each seq once, and a span starts at a seq it writes. Two rows of one block (written by two
 * `add()` calls) nominate overlapping ranges: {@link NOMINATED_SEQS} goes into an `IN`, a set,
 * and the text walk (`walk.ts`) skips the seqs an earlier row gave.
 */

import type { SQLInputValue } from "node:sqlite";
import type { AuditEvent } from "../event/model.ts";
import { foldText, textParts } from "./text.ts";

/** log2 of {@link TEXT_SPAN}. */
export const TEXT_SPAN_SHIFT = 4;
/** Seqs of an aligned block whose texts may share one full-text row. */
export const TEXT_SPAN = 2 ** TEXT_SPAN_SHIFT;
/** The low bits of a seq within its block. */
export const TEXT_SPAN_MASK = TEXT_SPAN - 1;

/** The first seq of the block of `seq`. */
export function spanStart(seq: number): number {
  return seq - seq % TEXT_SPAN;
}

/** The last seq of the block of `seq`. */
export function spanEnd(seq: number): number {
  return spanStart(seq) + TEXT_SPAN_MASK;
}

/**
 * The `rowid, body` arguments of the span rows of `records` (ascending seq): one row per run of
 * consecutive events with searchable text (`searchableText`) in the same aligned block, its
 * body the distinct lines of their texts in order of first appearance (a query token holds no
 * white space, so it lies within one line and no line needs to be kept twice). Made from each
 * value's folded lines, not from the joined text split again: folding values joined by newlines
 * gives the folded values joined, and a line said twice is kept once either way.
 */
export function eventSpanRows(
  records: readonly { seq: number; event: AuditEvent }[],
): SQLInputValue[] {
  const out: SQLInputValue[] = [];
  let start = -1, block = -1;
  let lines = new Set<string>();
  for (const { seq, event } of records) {
    const parts = textParts(event);
    if (parts === undefined) continue;
    const b = Math.floor(seq / TEXT_SPAN);
    if (b !== block) {
      if (start >= 0) out.push(start, [...lines].join("\n"));
      start = seq;
      block = b;
      lines = new Set();
    }
    for (const part of parts) {
      const folded = foldText(part);
      if (folded.includes("\n")) { for (const line of folded.split("\n")) lines.add(line); }
      else lines.add(folded);
    }
  }
  if (start >= 0) out.push(start, [...lines].join("\n"));
  return out;
}

/**
 * SQL of the seqs the matching span rows nominate, for `IN (...)`: every seq of its block from its
 * `rowid`, each once per matching row (the caller's `IN` makes a set of them). `?` is the
 * trigram query.
 */
export const NOMINATED_SEQS = `SELECT (events_text.rowid | ${TEXT_SPAN_MASK}) - o.value
    FROM events_text, json_each('[${Array.from({ length: TEXT_SPAN }, (_, i) => i).join(",")}]') o
    WHERE events_text MATCH ? AND (events_text.rowid | ${TEXT_SPAN_MASK}) - o.value >= events_text.rowid`;
