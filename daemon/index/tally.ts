/**
 * Which seqs the index can vouch for. `add()` counts the rows it writes per block of
 * {@link TALLY_BLOCK} seqs, in the same transaction, and triggers (`schema.ts`) count every row
 * deleted or edited afterwards, which only a hand on the file does. A block whose count is not
 * exactly the seqs it should hold, or that was edited, is untrusted: a search reads those events
 * from the log instead of believing the index about them. The check is one pass of SQLite over
 * a small row per block (610 rows at 10M events, about 0.2 ms), so every search makes it.
 */

import type { DatabaseSync } from "node:sqlite";
import { TALLY_BLOCK } from "./schema.ts";

/** A range of seqs [from, to). */
export type SeqRange = readonly [from: number, to: number];

/** Counts rows just added, given as their seqs, and lowers `first_seq` to the smallest. */
export function tallyAdded(db: DatabaseSync, seqs: ArrayLike<number>): void {
  if (seqs.length === 0) return;
  const perBlock = new Map<number, number>();
  let min = Infinity;
  for (let i = 0; i < seqs.length; i++) {
    const s = seqs[i]!;
    const b = Math.floor(s / TALLY_BLOCK);
    perBlock.set(b, (perBlock.get(b) ?? 0) + 1);
    if (s < min) min = s;
  }
  const upsert = db.prepare(
    `INSERT INTO tally (block, rows) VALUES (?, ?)
      ON CONFLICT (block) DO UPDATE SET rows = rows + excluded.rows`,
  );
  for (const [b, n] of perBlock) upsert.run(b, n);
  db.prepare(
    `INSERT INTO meta (key, value) VALUES ('first_seq', ?)
      ON CONFLICT (key) DO UPDATE SET value = min(CAST(value AS INTEGER), excluded.value)`,
  ).run(min);
}

/**
 * Records that the rows below `to` were dropped (retention deleted their events from the log):
 * `first_seq` moves up to `to` and the blocks wholly below it are forgotten; the block `to`
 * falls in keeps its count, which the delete trigger lowered row by row.
 */
export function tallyDropped(db: DatabaseSync, to: number): void {
  db.prepare(`DELETE FROM tally WHERE block < ?`).run(Math.floor(to / TALLY_BLOCK));
  db.prepare(
    `INSERT INTO meta (key, value) VALUES ('first_seq', ?)
      ON CONFLICT (key) DO UPDATE SET value = max(CAST(value AS INTEGER), excluded.value)`,
  ).run(to);
}

/** The lowest seq ever added, or undefined for an index that has never held a row. */
export function firstSeq(db: DatabaseSync): number | undefined {
  const row = db.prepare(`SELECT CAST(value AS INTEGER) AS v FROM meta WHERE key = 'first_seq'`)
    .get();
  return typeof row?.v === "number" ? row.v : undefined;
}

/**
 * The parts of [from, to) — a range the index claims to hold whole: at or above `first_seq` and
 * at or below its last seq `last` — that it cannot vouch for, as ascending, merged ranges.
 *
 * Every search asks this of all the seqs it covers, so it must not cost a row read into
 * JavaScript per block (1.5-3 ms at 10M events, growing with the store; one pass of SQLite is
 * about 0.2 ms): of the blocks the claims hold whole, SQLite gives only those whose count is off
 * or that were edited, and counts them, so that only when one is missing are the blocks gone
 * through one by one; the blocks at the claims' ends, which hold fewer seqs, are checked one by
 * one as they always were.
 */
export function untrustedRanges(
  db: DatabaseSync,
  range: SeqRange,
  claims: { first: number; last: number },
): SeqRange[] {
  const [from, to] = range;
  if (!(from < to)) return [];
  const lo = Math.floor(from / TALLY_BLOCK), hi = Math.floor((to - 1) / TALLY_BLOCK);
  // The blocks of [lo, hi] that the claims hold whole: a row of TALLY_BLOCK, unedited, each.
  const wholeLo = Math.max(lo, Math.ceil(claims.first / TALLY_BLOCK));
  const wholeHi = Math.min(hi, Math.floor((claims.last + 1) / TALLY_BLOCK) - 1);
  const bad: number[] = [];
  if (wholeLo <= wholeHi) {
    // One pass of SQLite over the rows, none of them read into JavaScript.
    const r = db.prepare(
      `SELECT count(*) AS n, group_concat(iif(edits != 0 OR rows != ?, block, NULL)) AS off
        FROM tally WHERE block BETWEEN ? AND ?`,
    ).get(TALLY_BLOCK, wholeLo, wholeHi);
    if (Number(r?.n ?? 0) === wholeHi - wholeLo + 1) {
      if (typeof r?.off === "string") { for (const b of r.off.split(",")) bad.push(Number(b)); }
    } else {
      // Tally rows removed: only a hand on the file does that.
      bad.push(...offBlocks(db, wholeLo, wholeHi, claims));
    }
    bad.push(...offBlocks(db, lo, wholeLo - 1, claims), ...offBlocks(db, wholeHi + 1, hi, claims));
  } else {
    bad.push(...offBlocks(db, lo, hi, claims));
  }
  bad.sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const b of bad) {
    const start = b * TALLY_BLOCK, end = start + TALLY_BLOCK;
    const clipped: [number, number] = [Math.max(start, from), Math.min(end, to)];
    const prev = out[out.length - 1];
    if (prev && prev[1] === clipped[0]) prev[1] = clipped[1];
    else out.push(clipped);
  }
  return out;
}

/** The blocks of [lo, hi] whose tally row is not exactly the seqs the claims hold there. */
function offBlocks(
  db: DatabaseSync,
  lo: number,
  hi: number,
  claims: { first: number; last: number },
): number[] {
  if (!(lo <= hi)) return [];
  const counted = new Map<number, { rows: number; edits: number }>();
  const rows = db.prepare(
    `SELECT block, rows, edits FROM tally WHERE block BETWEEN ? AND ?`,
  ).all(lo, hi);
  for (const r of rows) {
    counted.set(Number(r.block), { rows: Number(r.rows), edits: Number(r.edits) });
  }
  const out: number[] = [];
  for (let b = lo; b <= hi; b++) {
    const start = b * TALLY_BLOCK, end = start + TALLY_BLOCK;
    const expected = Math.max(0, Math.min(end, claims.last + 1) - Math.max(start, claims.first));
    const c = counted.get(b);
    if (c !== undefined && c.edits === 0 && c.rows === expected) continue;
    if (c === undefined && expected === 0) continue;
    out.push(b);
  }
  return out;
}
