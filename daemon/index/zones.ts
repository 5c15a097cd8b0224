/**
 * The event times of each zone of {@link ZONE_SIZE} seqs: the least and greatest `ts` of the rows
 * `add()` wrote there, kept in the same transaction. They turn a search's time window into the
 * seq ranges that can hold it ({@link timeRanges}, a filter split by them: {@link splitByTime}),
 * which the table (by rowid) and the indexes on a filter column (`(column, rowid)`) seek
 * directly; so no index has to hold `ts` beside every column, which cost 8 bytes an entry. Events arrive roughly in time order, so a day is a few
 * ranges whatever the store's size; events far out of order only widen their zones.
 *
 * Promise: every indexed row lies in a zone whose span holds its `ts`; a range marked `inside`
 * holds only rows whose `ts` is in the window. A zone widened by hand costs only speed; one
 * narrowed by hand (or a `zone_width` cut) can hide rows from a search through the index until
 * the re-check (`recheck.ts`) finds it and the index is rebuilt, as with a forged tally
 * (`schema.ts`); it never changes what is shown of an event.
 */

import type { DatabaseSync } from "node:sqlite";
import type { CompiledFilter } from "./filter.ts";

/** log2 of the seqs of a zone. */
const ZONE_SHIFT = 10;
/** Seqs of a zone: a window's edges test at most this many events' times each. */
export const ZONE_SIZE = 2 ** ZONE_SHIFT;
/** Most seq ranges a time window is split into; past it, a search walks without them. */
const MAX_TIME_RANGES = 64;

/** Widens the zones of rows just added to their times. */
export function zonesAdded(
  db: DatabaseSync,
  added: readonly { seq: number; event: { ts: number } }[],
): void {
  const spans = new Map<number, { min: number; max: number }>();
  for (const { seq, event: { ts } } of added) {
    const z = Math.floor(seq / ZONE_SIZE);
    const c = spans.get(z);
    if (c === undefined) spans.set(z, { min: ts, max: ts });
    else {
      if (ts < c.min) c.min = ts;
      if (ts > c.max) c.max = ts;
    }
  }
  const upsert = db.prepare(
    `INSERT INTO zones (zone, min_ts, max_ts) VALUES (?, ?, ?)
      ON CONFLICT (zone) DO UPDATE SET min_ts = min(min_ts, excluded.min_ts),
        max_ts = max(max_ts, excluded.max_ts)
      RETURNING min_ts, max_ts`,
  );
  let width = 0;
  for (const [z, c] of spans) {
    const row = upsert.get(z, c.min, c.max)!;
    width = Math.max(width, Number(row.max_ts) - Number(row.min_ts));
  }
  // The widest zone so far: lookups seek `min_ts` from the window's start less this.
  db.prepare(
    `INSERT INTO meta (key, value) VALUES ('zone_width', ?)
      ON CONFLICT (key) DO UPDATE SET value = max(CAST(value AS INTEGER), excluded.value)`,
  ).run(width);
}

/** Forgets the zones wholly below `to`, whose rows retention dropped. */
export function zonesDropped(db: DatabaseSync, to: number): void {
  db.prepare(`DELETE FROM zones WHERE zone < ?`).run(Math.floor(to / ZONE_SIZE));
}

/** A range of seqs [from, to) a time window reaches; `inside` when all its events lie in it. */
export interface TimeRange {
  from: number;
  to: number;
  inside: boolean;
}

/**
 * The seq ranges, ascending, of the zones whose times overlap [from, to) (either bound may be
 * absent). Adjacent zones merge when both lie wholly inside the window or both do not, so a
 * search tests event times only at the window's edges. Null when the window touches more than
 * {@link MAX_TIME_RANGES} separate ranges (events far out of time order), where one walk is
 * cheaper than that many queries.
 */
export function timeRanges(
  db: DatabaseSync,
  from: number | undefined,
  to: number | undefined,
): TimeRange[] | null {
  const lo = from ?? Number.MIN_SAFE_INTEGER, hi = to ?? Number.MAX_SAFE_INTEGER;
  const w = db.prepare(`SELECT CAST(value AS INTEGER) AS w FROM meta WHERE key = 'zone_width'`)
    .get()?.w;
  // A zone overlapping the window starts at most the widest zone's span before it: a seek on
  // `min_ts`, not a walk of every zone.
  const seek = typeof w === "number" ? Math.max(Number.MIN_SAFE_INTEGER, lo - w) : -Infinity;
  const rows = db.prepare(
    `SELECT zone, min_ts >= ? AND max_ts < ? AS inside FROM zones
      WHERE min_ts >= ? AND min_ts < ? AND max_ts >= ?`,
  ).all(lo, hi, Math.max(Number.MIN_SAFE_INTEGER, Math.min(seek, lo)), hi, lo).sort((a, b) =>
    Number(a.zone) - Number(b.zone)
  );
  const out: TimeRange[] = [];
  for (const r of rows) {
    const start = Number(r.zone) * ZONE_SIZE, inside = r.inside === 1;
    const prev = out[out.length - 1];
    if (prev && prev.to === start && prev.inside === inside) prev.to = start + ZONE_SIZE;
    else if (out.length === MAX_TIME_RANGES) return null;
    else out.push({ from: start, to: start + ZONE_SIZE, inside });
  }
  return out;
}

/**
 * The filter split by the seq ranges its time window can hold ({@link timeRanges}), in the order
 * of the search: each part seeks its range (by rowid, or within an index on a filter column)
 * instead of walking every row to test its time, and where every event of a range lies in the
 * window the part drops the time test, so that an index alone can answer it. One part when
 * there is no time window.
 */
export function splitByTime(db: DatabaseSync, f: CompiledFilter): CompiledFilter[] {
  if (f.from === undefined && f.to === undefined) return [f];
  const ranges = timeRanges(db, f.from, f.to);
  if (ranges === null) return [f];
  const out: CompiledFilter[] = [];
  for (const { from, to, inside } of ranges) {
    const after = Math.max(f.afterSeq ?? -1, from - 1);
    const before = Math.min(f.beforeSeq ?? Number.MAX_SAFE_INTEGER, to);
    if (!(after + 1 < before)) continue;
    const window = inside ? { from: undefined, to: undefined } : {};
    out.push({ ...f, ...window, afterSeq: after, beforeSeq: before });
  }
  return f.order === "desc" ? out.reverse() : out;
}
