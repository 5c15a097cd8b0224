/**
 * The event times of each zone of {@link ZONE_SIZE} seqs: the least and greatest `ts` of the rows
 * `add()` wrote there, kept in the same transaction. They turn a search's time window into the
 * seq ranges that can hold it ({@link timeRanges}, a filter split by them: {@link splitByTime}),
 * which the table (by rowid) and the indexes on a filter column (`(column, rowid)`) seek
 * directly; so no index has to hold `ts` beside every column, which cost 8 bytes an entry. Events
 * arrive roughly in time order, so a day is a few ranges whatever the store's size; events far
 * out of order only widen their zones.
 *
 * A window finds its zones by a seek on `min_ts` from its start less `zone_width`, the widest
 * zone's span, so the seek reads the zones of the window and of one zone's span before it. A
 * zone made far wider than the others by a few events out of order (events posted with old or
 * future times, the daemon's own events after a bulk fill of old ones) would widen that seek to
 * every zone, on every search, for good: such a zone is listed instead (`zone_wide` in `meta`,
 * at most {@link MAX_WIDE_ZONES}), and searches read the listed zones by number. An index written
 * before the list gets one at its next `add()`, from one pass over its zones.
 *
 * Promise: every indexed row lies in a zone whose span holds its `ts`, and every zone is listed
 * or no wider than `zone_width`; a range marked `inside` holds only rows whose `ts` is in the
 * window. A zone widened by hand costs only speed; one narrowed by hand (or a `zone_width` cut,
 * or a zone taken off the list) can hide rows from a search through the index until the re-check
 * (`recheck.ts`) finds it and the index is rebuilt, as with a forged tally (`schema.ts`); it
 * never changes what is shown of an event.
 */

import type { DatabaseSync } from "node:sqlite";
import type { CompiledFilter } from "./filter.ts";

/** log2 of the seqs of a zone. */
const ZONE_SHIFT = 10;
/** Seqs of a zone: a window's edges test at most this many events' times each. */
export const ZONE_SIZE = 2 ** ZONE_SHIFT;
/** Most seq ranges a time window is split into; past it, a search walks without them. */
const MAX_TIME_RANGES = 64;

/** Most zones listed as far wider than the others; past it, `zone_width` takes them in. */
export const MAX_WIDE_ZONES = 64;
/**
 * A zone is listed when it grows to more than this many times `zone_width` (plus
 * {@link WIDE_SLACK_US}) at once: a few events far out of order, not traffic slowing down, which
 * widens zones a little at a time and moves `zone_width` with them.
 */
const WIDE_FACTOR = 16;
/** An hour in µs: zones of a quiet store, or of a fresh index's first rows, are not listed. */
const WIDE_SLACK_US = 3_600_000_000;

/** How far a window's seek reaches: `zone_width`, and the zones listed as wider. */
export interface ZoneReach {
  /** Widest span of a zone not listed; undefined before the first zone. */
  width: number | undefined;
  wide: number[];
  /** False for an index written before zones were listed (no list stored). */
  listed: boolean;
}

/**
 * The seek's reach as the index holds it (an index without a list: none listed), in one
 * statement, so that a writer's commit between two reads cannot pair a new width with an old list.
 */
export function zoneReach(db: DatabaseSync): ZoneReach {
  const r = db.prepare(
    `SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'zone_width') AS w,
      (SELECT value FROM meta WHERE key = 'zone_wide') AS list`,
  ).get();
  const w = r?.w, list = r?.list;
  return {
    width: typeof w === "number" ? w : undefined,
    wide: list == null ? [] : parseWide(String(list)),
    listed: list != null,
  };
}

/**
 * The reach an index written before zones were listed should have: the zones among the widest
 * that are far wider than the rest listed, `zone_width` the widest of the rest. One pass over the
 * zones, once for such an index (its first `add()` after the upgrade writes the list); until
 * then its `zone_width` took in every zone, and searches were only slower.
 */
function listedReach(db: DatabaseSync): ZoneReach {
  const widest = db.prepare(
    `SELECT zone, max_ts - min_ts AS w FROM zones ORDER BY w DESC LIMIT ?`,
  ).all(MAX_WIDE_ZONES + 1).map((r) => ({ zone: Number(r.zone), w: Number(r.w) }));
  const reach: ZoneReach = { width: zoneReach(db).width, wide: [], listed: true };
  // Fewer zones than the list holds: none is far wider than enough others to tell.
  if (widest.length <= MAX_WIDE_ZONES) return reach;
  const far = widest[MAX_WIDE_ZONES]!.w * WIDE_FACTOR + WIDE_SLACK_US;
  const rest = widest.find((z) => z.w <= far)!;
  reach.wide = widest.filter((z) => z.w > far).map((z) => z.zone);
  reach.width = rest.w;
  return reach;
}

/** The list as stored: a JSON array of zone numbers; anything else lists none. */
function parseWide(text: string): number[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((z): z is number => Number.isSafeInteger(z)) : [];
  } catch {
    return [];
  }
}

/** Widens the zones of rows just added to their times, and `zone_width` or the list with them. */
export function zonesAdded(
  db: DatabaseSync,
  seqs: ArrayLike<number>,
  times: ArrayLike<number>,
): void {
  const spans = new Map<number, { min: number; max: number }>();
  for (let i = 0; i < seqs.length; i++) {
    const ts = times[i]!;
    const z = Math.floor(seqs[i]! / ZONE_SIZE);
    const c = spans.get(z);
    if (c === undefined) spans.set(z, { min: ts, max: ts });
    else {
      if (ts < c.min) c.min = ts;
      if (ts > c.max) c.max = ts;
    }
  }
  if (spans.size === 0) return;
  const upsert = db.prepare(
    `INSERT INTO zones (zone, min_ts, max_ts) VALUES (?, ?, ?)
      ON CONFLICT (zone) DO UPDATE SET min_ts = min(min_ts, excluded.min_ts),
        max_ts = max(max_ts, excluded.max_ts)
      RETURNING min_ts, max_ts`,
  );
  const stored = zoneReach(db);
  const reach = stored.listed ? stored : listedReach(db);
  const listed = new Set(reach.wide);
  let width = reach.width;
  for (const [z, c] of spans) {
    const row = upsert.get(z, c.min, c.max)!;
    const span = Number(row.max_ts) - Number(row.min_ts);
    if (listed.has(z) || (width !== undefined && span <= width)) continue;
    const far = width !== undefined && span > width * WIDE_FACTOR + WIDE_SLACK_US;
    if (far && listed.size < MAX_WIDE_ZONES) listed.add(z);
    else width = span;
  }
  if (width !== stored.width) {
    db.prepare(
      `INSERT INTO meta (key, value) VALUES ('zone_width', ?)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ).run(width!);
  }
  if (!stored.listed || listed.size !== stored.wide.length) writeWide(db, [...listed]);
}

function writeWide(db: DatabaseSync, zones: number[]): void {
  db.prepare(
    `INSERT INTO meta (key, value) VALUES ('zone_wide', ?)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  ).run(JSON.stringify(zones.sort((a, b) => a - b)));
}

/** Forgets the zones wholly below `to`, whose rows retention dropped. */
export function zonesDropped(db: DatabaseSync, to: number): void {
  const below = Math.floor(to / ZONE_SIZE);
  db.prepare(`DELETE FROM zones WHERE zone < ?`).run(below);
  const { wide } = zoneReach(db);
  const kept = wide.filter((z) => z >= below);
  if (kept.length !== wide.length) writeWide(db, kept);
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
  const { width: w, wide } = zoneReach(db);
  // A zone overlapping the window starts at most the widest zone's span before it: a seek on
  // `min_ts`, not a walk of every zone; the zones listed as wider are read by number.
  const seek = w !== undefined ? Math.max(Number.MIN_SAFE_INTEGER, lo - w) : -Infinity;
  const found = db.prepare(
    `SELECT zone, min_ts >= ? AND max_ts < ? AS inside FROM zones
      WHERE min_ts >= ? AND min_ts < ? AND max_ts >= ?`,
  ).all(lo, hi, Math.max(Number.MIN_SAFE_INTEGER, Math.min(seek, lo)), hi, lo);
  if (wide.length > 0) {
    const seen = new Set(found.map((r) => Number(r.zone)));
    const listed = db.prepare(
      `SELECT zone, min_ts >= ? AND max_ts < ? AS inside FROM zones
        WHERE zone IN (SELECT value FROM json_each(?)) AND min_ts < ? AND max_ts >= ?`,
    ).all(lo, hi, JSON.stringify(wide), hi, lo);
    for (const r of listed) if (!seen.has(Number(r.zone))) found.push(r);
  }
  const rows = found.sort((a, b) => Number(a.zone) - Number(b.zone));
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
