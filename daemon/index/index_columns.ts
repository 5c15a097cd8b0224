/**
 * A batch of events as the columns the index's writer stores of them, for a reader on a Worker
 * to hand over (`log_batches_worker.ts`): seqs, times and row counts as typed arrays moved
 * without a copy, the name columns (source, kind, database, object, role, folded command) as
 * codes into a list of strings that grows with each batch by the strings new in it, and the
 * batch's full-text rows (`text_spans.ts`). Copying whole event objects between the threads
 * cost each side about as much as parsing them did.
 *
 * Promise: `ColumnStrings.of` on the writer's side gives back each event's values as the builder
 * saw them, when every batch's `strings` is handed over in order.
 */

import type { SQLInputValue } from "node:sqlite";
import type { AuditEvent } from "../event/model.ts";
import { foldText } from "./text.ts";
import { eventSpanRows } from "./text_spans.ts";

/** The name columns, in the order of the `events` table (`index_rows.ts`). */
export const NAME_COLUMNS = ["source", "kind", "db", "object", "role", "command"] as const;

/**
 * Puts an event's values of {@link NAME_COLUMNS} into `out`, in order, the command folded
 * (`foldText`): what both the writer's own rows and the columns a Worker hands over store as
 * names. `out` is reused by the caller: a new array an event showed in the build's time.
 */
export function eventNamesInto(ev: AuditEvent, out: (string | undefined)[]): void {
  out[0] = ev.source;
  out[1] = ev.kind;
  out[2] = ev.db;
  out[3] = ev.object;
  out[4] = ev.role;
  out[5] = ev.command === undefined ? undefined : foldText(ev.command);
}

/** A batch in columns. */
export interface IndexColumns {
  seqs: Float64Array<ArrayBuffer>;
  ts: Float64Array<ArrayBuffer>;
  /** pgAudit's row count, NaN for none. */
  rows: Float64Array<ArrayBuffer>;
  /** Per event, a code for each of {@link NAME_COLUMNS} in turn, -1 for none. */
  names: Int32Array<ArrayBuffer>;
  /** The strings first used in this batch, codes from the count handed over before. */
  strings: string[];
  /** The full-text rows: `rowid, body` pairs. */
  spans: SQLInputValue[];
}

/** Turns batches of events into columns; one per run of batches, fed in order. */
export class ColumnBuilder {
  readonly #codes = new Map<string, number>();

  /**
   * A batch of at most `capacity` events, taken a run at a time (`add`), so that a reader need
   * not hold the whole batch's events at once: the same columns as one `add` of them all, when
   * every run but the last ends at a multiple of `TEXT_SPAN` (a span's events in one run).
   */
  begin(capacity: number): ColumnBatch {
    return new ColumnBatch(capacity, this.#codes);
  }
}

/** One batch of a {@link ColumnBuilder}, filled a run at a time; finish it before the next. */
export class ColumnBatch {
  readonly #codes: Map<string, number>;
  readonly #cols: IndexColumns;
  readonly #values: (string | undefined)[] = [];
  #n = 0;

  constructor(capacity: number, codes: Map<string, number>) {
    this.#codes = codes;
    this.#cols = {
      seqs: new Float64Array(capacity),
      ts: new Float64Array(capacity),
      rows: new Float64Array(capacity),
      names: new Int32Array(capacity * NAME_COLUMNS.length),
      strings: [],
      spans: [],
    };
  }

  /** Events taken so far. */
  get count(): number {
    return this.#n;
  }

  /** Takes the next events, in seq order; throws RangeError past the capacity. */
  add(records: readonly { seq: number; event: AuditEvent }[]): void {
    const cols = this.#cols, width = NAME_COLUMNS.length, values = this.#values;
    if (this.#n + records.length > cols.seqs.length) {
      throw new RangeError(`Cannot add ${records.length} events: the batch holds fewer`);
    }
    for (const { seq, event: ev } of records) {
      const i = this.#n++;
      cols.seqs[i] = seq;
      cols.ts[i] = ev.ts;
      cols.rows[i] = ev.rows ?? NaN;
      eventNamesInto(ev, values);
      for (let k = 0; k < width; k++) cols.names[i * width + k] = this.#code(values[k]);
    }
    for (const v of eventSpanRows(records)) cols.spans.push(v);
  }

  /** The columns of the events taken, and the buffers to transfer with them. */
  finish(): { cols: IndexColumns; transfer: ArrayBuffer[] } {
    const c = this.#cols, n = this.#n;
    const cols: IndexColumns = n === c.seqs.length ? c : {
      ...c,
      seqs: c.seqs.slice(0, n),
      ts: c.ts.slice(0, n),
      rows: c.rows.slice(0, n),
      names: c.names.slice(0, n * NAME_COLUMNS.length),
    };
    const transfer = [cols.seqs.buffer, cols.ts.buffer, cols.rows.buffer, cols.names.buffer];
    return { cols, transfer };
  }

  #code(v: string | undefined): number {
    if (v === undefined) return -1;
    let c = this.#codes.get(v);
    if (c === undefined) {
      c = this.#codes.size;
      this.#codes.set(v, c);
      this.#cols.strings.push(v);
    }
    return c;
  }
}

/** The strings of a run of batches on the writer's side. */
export class ColumnStrings {
  readonly #strings: string[] = [];

  /** Takes in a batch's new strings; call for every batch, in order. */
  take(cols: IndexColumns): void {
    for (const s of cols.strings) this.#strings.push(s);
  }

  /** The string of `code`, undefined for -1. */
  of(code: number): string | undefined {
    if (code < 0) return undefined;
    const s = this.#strings[code];
    if (s === undefined) throw new RangeError(`no string of code ${code}: a batch was skipped`);
    return s;
  }
}
