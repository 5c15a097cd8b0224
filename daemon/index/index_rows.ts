/**
 * The rows one batch of events adds to the search index (`EventIndex.add()` runs this inside its
 * transaction): the `events` row of each, its row count, tally and zone, its attributed fields
 * and links (`links.ts`) and the full-text rows of its text (`text_spans.ts`). A batch is either
 * events, whose text, fields and links are worked out here, or one that a reader beside the
 * writer prepared (`log_batches_worker.ts`): its events in columns with their text rows
 * (`index_columns.ts`), its links fed by a join of its own; such a batch is taken only whole,
 * every event after the index's end, in order.
 *
 * Promise: both kinds of batch give the same rows for the same events in the same batches (text
 * rows are made per batch, see `text_spans.ts`).
 */

import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import type { AuditEvent } from "../event/model.ts";
import { sortedFields } from "./field_keys.ts";
import type { LinkRows, LinkState } from "./link_feed.ts";
import type { AttributionLinks } from "./links.ts";
import type { NameIds } from "./names.ts";
import {
  type ColumnStrings,
  eventNamesInto,
  type IndexColumns,
  NAME_COLUMNS,
} from "./index_columns.ts";
import type { RowInserts, RowShape } from "./row_inserts.ts";
import { tallyAdded } from "./tally.ts";
import { eventSpanRows } from "./text_spans.ts";
import { zonesAdded } from "./zones.ts";

/** One event to index. */
export interface IndexRecord {
  seq: number;
  event: AuditEvent;
}

/**
 * What a join beside the writer found in a batch (`link_feed.ts`), and its state to save with
 * it when given; with an empty batch, the state alone.
 */
export interface FedLinks {
  rows: LinkRows;
  state?: LinkState | undefined;
}

/** The writer's parts `addRows` uses. */
export interface RowWriter {
  db: DatabaseSync;
  names: NameIds;
  inserts: RowInserts;
  links: AttributionLinks;
  lastSeq(): number;
}

const EVENT_COLUMNS = `seq, ts, source, kind, db, object, role, command_key`;
const EVENTS: RowShape = { table: "events", columns: EVENT_COLUMNS, width: 8 };
const EVENTS_TEXT: RowShape = { table: "events_text", columns: "rowid, body", width: 2 };
const ROW_COUNTS: RowShape = { table: "row_counts", columns: "seq, rows", width: 2 };
const FIELDS: RowShape = { table: "fields", columns: "block, key, off", width: 3, or: "OR IGNORE" };

/** Adds the batch's rows (inside the caller's transaction); returns how many events were new. */
export function addRows(w: RowWriter, records: readonly IndexRecord[]): number {
  const fresh = unindexed(w, records);
  const eventArgs: SQLInputValue[] = [];
  const rowArgs: SQLInputValue[] = [];
  for (const r of fresh) {
    pushRow(w.names, eventArgs, r);
    if (r.event.rows !== undefined) rowArgs.push(r.seq, r.event.rows);
  }
  const seqs = fresh.map((r) => r.seq);
  // Every record: after a crash the join takes in again what it had not saved.
  const fields = w.links.add(records);
  const spans = eventSpanRows([...fresh].sort((a, b) => a.seq - b.seq));
  insertAll(w, { seqs, ts: fresh.map((r) => r.event.ts), eventArgs, rowArgs, fields }, spans);
  return fresh.length;
}

/**
 * Adds a prepared batch's rows (inside the caller's transaction): `cols` (its strings taken in
 * by `strings` already), and the links its join found. Throws unless its events come right
 * after the index's end, in ascending order. Returns how many events it held.
 */
export function addColumns(
  w: RowWriter,
  cols: IndexColumns,
  strings: ColumnStrings,
  fed: FedLinks,
): number {
  const { seqs, ts, rows, names } = cols;
  const n = seqs.length, width = NAME_COLUMNS.length;
  let last = w.lastSeq();
  for (let i = 0; i < n; i++) {
    if (!(seqs[i]! > last) || !Number.isSafeInteger(seqs[i])) {
      throw new Error(`a prepared batch must follow the index's end in order: seq ${seqs[i]}`);
    }
    last = seqs[i]!;
  }
  const eventArgs: SQLInputValue[] = [];
  const rowArgs: SQLInputValue[] = [];
  const id = (at: number): number | null => {
    const v = strings.of(names[at]!);
    return v === undefined ? null : w.names.id(v);
  };
  for (let i = 0; i < n; i++) {
    const at = i * width;
    eventArgs.push(
      seqs[i]!,
      ts[i]!,
      id(at),
      id(at + 1),
      id(at + 2),
      id(at + 3),
      id(at + 4),
      id(at + 5),
    );
    if (!Number.isNaN(rows[i])) rowArgs.push(seqs[i]!, rows[i]!);
  }
  const fields = w.links.addFed(fed.rows, fed.state);
  insertAll(w, { seqs, ts, eventArgs, rowArgs, fields }, cols.spans);
  return n;
}

/** The inserts of a batch, in their order. */
function insertAll(
  w: RowWriter,
  b: {
    seqs: ArrayLike<number>;
    ts: ArrayLike<number>;
    eventArgs: SQLInputValue[];
    rowArgs: SQLInputValue[];
    fields: number[];
  },
  spans: SQLInputValue[],
): void {
  w.inserts.insert(EVENTS, b.eventArgs);
  w.inserts.insert(ROW_COUNTS, b.rowArgs);
  tallyAdded(w.db, b.seqs);
  zonesAdded(w.db, b.seqs, b.ts);
  w.inserts.insert(FIELDS, sortedFields(b.fields));
  // Last: FTS5 keeps a transaction's terms in memory until a later statement's savepoint
  // or the commit writes them out, so text inserted before other statements was written
  // out twice per transaction, as two segments to merge.
  w.inserts.insert(EVENTS_TEXT, spans);
}

/** An event's names, filled by `eventNamesInto` for one row at a time. */
const rowNames: (string | undefined)[] = [];

/** Binds the events columns of one record, in EVENT_COLUMNS order. */
function pushRow(names: NameIds, out: SQLInputValue[], r: IndexRecord): void {
  out.push(r.seq, r.event.ts);
  eventNamesInto(r.event, rowNames);
  for (const v of rowNames) out.push(names.idOrNull(v));
}

/** The records whose seq is not indexed yet, first occurrence of each; checks each record. */
function unindexed(w: RowWriter, records: readonly IndexRecord[]): IndexRecord[] {
  let min = Infinity;
  for (const { seq, event } of records) {
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`bad seq ${seq}`);
    if (event.seq !== seq) {
      throw new TypeError(`record seq ${seq} carries an event with seq ${event.seq}`);
    }
    if (seq < min) min = seq;
  }
  const seen = new Set<number>();
  // The feeder appends past lastSeq(), so the lookup of existing seqs is only needed on
  // re-feeding an overlap.
  if (min <= w.lastSeq()) {
    const rows = w.db.prepare(
      "SELECT seq FROM events WHERE seq IN (SELECT value FROM json_each(?))",
    ).all(JSON.stringify(records.map((r) => r.seq)));
    for (const row of rows) seen.add(row.seq as number);
  }
  const out: IndexRecord[] = [];
  for (const r of records) {
    if (seen.has(r.seq)) continue;
    seen.add(r.seq);
    out.push(r);
  }
  return out;
}
