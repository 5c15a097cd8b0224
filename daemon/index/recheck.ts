/**
 * A re-check of the search index against the log while `serve` runs, row by row: it reads the
 * log a chunk of seqs at a time and compares every row the index holds for those seqs — time,
 * source, kind, database, object, role and folded command — with what the
 * indexer would write for the logged event, and finds rows missing or added; and the zones that
 * turn a time window into seq ranges (`zones.ts`): each must span the times of its logged events
 * and be reached by the seek of searches (`zones.ts`), or a search through it would miss them (its
 * seqs count as differing). Unlike the tally
 * (`tally.ts`), which counts rows removed or edited through SQLite's triggers, this holds
 * against anyone who also rewrites the tally or drops the triggers.
 *
 * Promises: read-only, through a connection of its own (the writer goes on); memory is one chunk
 * of events and their rows whatever the log's size; `pace` is awaited after each chunk, so the
 * caller bounds the rate of reads; seqs before the log's start (retention) and after `upTo` are
 * not looked at. It does not look inside the full-text table: it nominates only, and every
 * search tests the text of what it nominates against the log.
 */

import { DatabaseSync } from "node:sqlite";
import type { AuditEvent } from "../event/model.ts";
import { SeqReader } from "../store/seq_reader.ts";
import { indexPath } from "./event_index.ts";
import { SCHEMA_VERSION, storedVersion } from "./schema.ts";
import type { SeqRange } from "./tally.ts";
import { foldText } from "./text.ts";
import { ZONE_SIZE, zoneReach } from "./zones.ts";

/** Seqs compared at a time. */
export const RECHECK_CHUNK = 1024;
/** Differing ranges kept in a report; more are counted. */
const MAX_RANGES = 100;

/** What a re-check found. */
export interface RecheckReport {
  /** Seqs compared. */
  checked: number;
  /** Seq ranges [from, to) where the index and the log disagree, merged, the first hundred. */
  ranges: SeqRange[];
  /** Seqs where they disagree, in all. */
  differing: number;
  /** True when the index holds nothing to compare (none yet, or of another layout). */
  empty: boolean;
}

/** Options of {@link recheckIndex}. */
export interface RecheckOptions {
  /** Only seqs below this (the log's size when the check starts). */
  upTo: number;
  chunk?: number;
  /** Awaited after each chunk with the seqs it held: the caller's pace. */
  pace?: (seqs: number) => Promise<void>;
  /** Polled after each chunk; the check ends early when true. */
  stopped?: () => boolean;
}

/** One row as the index holds it, names as text. */
type Row = readonly [
  seq: number,
  ts: number,
  source: string | null,
  kind: string | null,
  db: string | null,
  object: string | null,
  role: string | null,
  command: string | null,
];

/** The row the indexer writes for `ev` (`EventIndex.add`). */
function expectedRow(ev: AuditEvent): Row {
  return [
    ev.seq,
    ev.ts,
    ev.source,
    ev.kind,
    ev.db ?? null,
    ev.object ?? null,
    ev.role ?? null,
    ev.command === undefined ? null : foldText(ev.command),
  ];
}

const ROWS_SQL = `SELECT e.seq AS seq, e.ts AS ts,
    (SELECT value FROM names WHERE id = e.source) AS source,
    (SELECT value FROM names WHERE id = e.kind) AS kind,
    (SELECT value FROM names WHERE id = e.db) AS db,
    (SELECT value FROM names WHERE id = e.object) AS object,
    (SELECT value FROM names WHERE id = e.role) AS role,
    (SELECT value FROM names WHERE id = e.command_key) AS command
  FROM events e WHERE e.seq >= ? AND e.seq < ? ORDER BY e.seq`;

/**
 * Compares the index of `dataDir` with its log over the seqs the index claims to hold (from
 * the lowest seq it was given to its last), within the log's retained part and below `upTo`.
 */
export async function recheckIndex(
  dataDir: string,
  opts: RecheckOptions,
): Promise<RecheckReport> {
  const report: RecheckReport = { checked: 0, ranges: [], differing: 0, empty: true };
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(indexPath(dataDir), { readOnly: true });
  } catch {
    return report; // No index yet: nothing it could show.
  }
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    if (storedVersion(db) !== SCHEMA_VERSION) return report;
    const first = db.prepare(
      `SELECT CAST(value AS INTEGER) AS v FROM meta WHERE key = 'first_seq'`,
    ).get()?.v;
    const last = db.prepare("SELECT max(seq) AS m FROM events").get()?.m;
    if (typeof first !== "number" || typeof last !== "number") return report;
    report.empty = false;
    const reader = await SeqReader.open(dataDir);
    const from = Math.max(first, await reader.start());
    const to = Math.min(last + 1, opts.upTo);
    const chunk = opts.chunk ?? RECHECK_CHUNK;
    const rows = db.prepare(ROWS_SQL);
    for (let at = from; at < to; at += chunk) {
      const end = Math.min(to, at + chunk);
      const logged = new Map<number, Row>();
      for (const r of await reader.read(seqs(at, end))) logged.set(r.seq, expectedRow(r.event));
      const held = new Map<number, Row>();
      for (const r of rows.all(at, end)) {
        const row = [
          r.seq,
          r.ts,
          r.source,
          r.kind,
          r.db,
          r.object,
          r.role,
          r.command,
        ] as unknown as Row;
        held.set(Number(r.seq), row);
      }
      const bad = narrowZones(db, logged);
      for (let s = at; s < end; s++) {
        const want = logged.get(s), got = held.get(s);
        // A seq the log no longer holds (retention ran meanwhile) is not the index's fault.
        if (want === undefined) continue;
        if (got !== undefined && sameRow(want, got) && !bad.has(s)) continue;
        noteDiffering(report, s);
      }
      report.checked += end - at;
      await opts.pace?.(end - at);
      if (opts.stopped?.()) break;
    }
    return report;
  } finally {
    db.close();
  }
}

/**
 * The seqs of `logged` whose zone would hide them from a time window: no zone row, one that does
 * not span their times, or one wider than the `zone_width` searches seek back by and not listed
 * as wider (`zones.ts`). A zone wider than its events costs only speed and is not counted.
 */
function narrowZones(db: DatabaseSync, logged: Map<number, Row>): Set<number> {
  const spans = new Map<number, { min: number; max: number; seqs: number[] }>();
  for (const [seq, row] of logged) {
    const z = Math.floor(seq / ZONE_SIZE), ts = row[1];
    const c = spans.get(z);
    if (c === undefined) spans.set(z, { min: ts, max: ts, seqs: [seq] });
    else {
      if (ts < c.min) c.min = ts;
      if (ts > c.max) c.max = ts;
      c.seqs.push(seq);
    }
  }
  const bad = new Set<number>();
  if (spans.size === 0) return bad;
  // Read for every chunk: the writer only ever widens it and lists more, and goes on meanwhile.
  const reach = zoneReach(db);
  const width = reach.width ?? -1, wide = new Set(reach.wide);
  const zone = db.prepare("SELECT min_ts, max_ts FROM zones WHERE zone = ?");
  for (const [z, c] of spans) {
    const r = zone.get(z);
    const lo = Number(r?.min_ts), hi = Number(r?.max_ts);
    const reached = hi - lo <= width || wide.has(z);
    if (r !== undefined && lo <= c.min && hi >= c.max && reached) continue;
    for (const s of c.seqs) bad.add(s);
  }
  return bad;
}

function sameRow(a: Row, b: Row): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function noteDiffering(report: RecheckReport, seq: number): void {
  report.differing++;
  const ranges = report.ranges as [number, number][];
  const prev = ranges[ranges.length - 1];
  if (prev && prev[1] === seq) prev[1] = seq + 1;
  else if (ranges.length < MAX_RANGES) ranges.push([seq, seq + 1]);
}

function seqs(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
