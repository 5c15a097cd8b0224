/**
 * The walks that give the seqs an index nominates for a filter, in the filter's order, one at a
 * time (see `Drive` in `filter_sql.ts`): by rows of `events`, or by the trigram table's matching
 * text spans (`text_spans.ts`). Each stops its statement when the caller stops iterating.
 */

import type { DatabaseSync } from "node:sqlite";
import type { CompiledFilter } from "./filter.ts";
import { selectSql, textWalkSql } from "./filter_sql.ts";
import { spanEnd } from "./text_spans.ts";

/** The `"rows"` walk: `events` by `seq`, or by an index on the other conditions. */
export function* rowWalk(db: DatabaseSync, f: CompiledFilter): Generator<number, void, undefined> {
  const { sql, params } = selectSql(f);
  for (const row of db.prepare(sql).iterate(...params)) yield row.seq as number;
}

/**
 * The `"text"` walk of trigram query `fts`: the matching span rows in order, and of each the
 * indexed seqs of its range that pass the other conditions, skipping those an earlier row of the
 * same block gave.
 */
export function* textWalk(
  db: DatabaseSync,
  f: CompiledFilter,
  fts: string,
): Generator<number, void, undefined> {
  const { spans, members } = textWalkSql(f, fts);
  const desc = f.order === "desc";
  const lo = f.afterSeq === undefined ? 0 : f.afterSeq + 1;
  const hi = f.beforeSeq === undefined ? Number.MAX_SAFE_INTEGER : f.beforeSeq - 1;
  const inSpan = db.prepare(members.sql);
  let last = desc ? Infinity : -1;
  for (const row of db.prepare(spans.sql).iterate(...spans.params)) {
    const start = row.r as number;
    const from = Math.max(start, lo), to = Math.min(spanEnd(start), hi);
    if (from > to) continue;
    for (const m of inSpan.all(from, to, ...members.params)) {
      const seq = m.seq as number;
      if (desc ? seq >= last : seq <= last) continue;
      last = seq;
      yield seq;
    }
  }
}
