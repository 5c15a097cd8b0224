/**
 * Arrow record batches of events built straight from their canonical JSON bytes, as the export
 * spool holds them, without an object per event: the same table, buffer for buffer, that
 * `eventsToArrowTable` builds from the parsed events (a test holds it to that), so the Parquet
 * bytes do not depend on which path built them. `JSON.parse` and the object builder took
 * ~3.2 µs an event here and left a batch of objects and their garbage in V8's heap (~90 MiB of
 * it at the export's peak).
 *
 * Canonical JSON is `JSON.stringify` of the event with keys in schema order (`canonical.ts`), so
 * a value's bytes are already what its column holds: a string without a backslash is its UTF-8
 * bytes, a `json` field's bytes are `JSON.stringify` of its value. Each line is first scanned for
 * where its fields are (`scanLine`), then every column is filled from a whole batch of lines
 * (`arrow_json_columns.ts`), one column at a time, as the object builder does for cache's sake.
 * A line this does not expect — white space, an escape in a key, a field out of order, a value
 * of another type — is parsed with `JSON.parse` and added as the object builder would add it,
 * with its errors.
 */

import {
  type Bool,
  type DataType,
  type Dictionary,
  type Int32,
  type Int64,
  type List,
  makeData,
  RecordBatch,
  Struct,
  Table,
  type Utf8,
} from "apache-arrow";
import { eventArrowSchema } from "../event/arrow.ts";
import { EVENT_FIELDS, type FieldSpec } from "../event/model.ts";
import type { Batch, Column } from "./arrow_json_buffers.ts";
import { BoolColumn, IntColumn, ListColumn, TextColumn } from "./arrow_json_columns.ts";
import { DictColumn } from "./arrow_json_dict.ts";
import { clearEscape, intValue, listItems, sawEscape, skipToken } from "./json_tokens.ts";

/** Lines of canonical JSON: line `i` is `buf[starts[i]..ends[i])`. */
export interface JsonLines {
  buf: Uint8Array;
  starts: Int32Array;
  ends: Int32Array;
  count: number;
}

const Q = 0x22, BSLASH = 0x5c, COLON = 0x3a, COMMA = 0x2c;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const NAMES = EVENT_FIELDS.map((f) => encoder.encode(f.name));
const FIELDS = EVENT_FIELDS.length;
/** Each field's kind of token, as a number: compared once per field of every line. */
const INT = 0, BOOL = 1, TEXT = 2, JSON_VALUE = 3, LIST = 4;
const KINDS = EVENT_FIELDS.map((f) =>
  f.type === "int" || f.type === "ts"
    ? INT
    : f.type === "bool"
    ? BOOL
    : f.type === "json"
    ? JSON_VALUE
    : f.type === "strings"
    ? LIST
    : TEXT
);

/** A line being scanned: its bytes, its row, and where its tokens are recorded. */
interface Line {
  start: number;
  end: number;
  row: number;
  batch: Batch;
  cap: number;
}

/** Events' canonical JSON, a batch of lines at a time, into Arrow tables. */
export class JsonBatchBuilder {
  readonly #capacity: number;
  readonly #columns: Column[];
  readonly #batch: Batch;
  readonly #line: Line;

  /** Batches of at most `capacity` lines. */
  constructor(capacity: number) {
    this.#capacity = capacity;
    const types = eventArrowSchema().fields.map((f) => f.type);
    this.#columns = EVENT_FIELDS.map((spec, i) => column(spec, types[i]!, capacity));
    this.#batch = {
      buf: new Uint8Array(0),
      n: 0,
      starts: new Int32Array(FIELDS * capacity),
      ends: new Int32Array(FIELDS * capacity),
      ints: new Float64Array(FIELDS * capacity),
      parsed: new Array(capacity),
      escaped: new Uint8Array(capacity),
    };
    this.#line = { start: 0, end: 0, row: 0, batch: this.#batch, cap: capacity };
  }

  /**
   * The table of the events whose canonical JSON is `lines`, with the seqs of the first and the
   * last. The table's buffers are the builder's own: it is valid until the next `build()`
   * (`arrow_json_columns.ts`), so read it (as the encoder does) before. Throws TypeError, as
   * `eventsToArrowTable` does, for a missing required field or a value of the wrong type, and
   * SyntaxError for a line that is not JSON.
   */
  build(lines: JsonLines): { table: Table; firstSeq: number; lastSeq: number } {
    const n = lines.count;
    if (n > this.#capacity) throw new RangeError(`Cannot build ${n} rows: the batch holds fewer`);
    const b = this.#batch;
    b.buf = lines.buf;
    b.n = n;
    const line = this.#line; // one object, reused: nothing is allocated per line
    for (let r = 0; r < n; r++) {
      line.start = lines.starts[r]!;
      line.end = lines.ends[r]!;
      line.row = r;
      b.parsed[r] = undefined;
      b.escaped[r] = 0;
      const scanned = scanLine(lines.buf, line);
      if (scanned < 0) b.parsed[r] = parseLine(lines.buf, line.start, line.end);
      else b.escaped[r] = scanned;
    }
    for (let f = 0; f < FIELDS; f++) this.#columns[f]!.fill(b, f * this.#capacity);
    const seq = this.#columns[0]!;
    const out = { firstSeq: seq.int(0), lastSeq: seq.int(n - 1) };
    const s = eventArrowSchema();
    const children = this.#columns.map((c) => c.finish(n));
    b.buf = new Uint8Array(0);
    b.parsed.fill(undefined);
    const data = makeData({ type: new Struct(s.fields), length: n, nullCount: 0, children });
    return { table: new Table(s, [new RecordBatch(s, data)]), ...out };
  }
}

function parseLine(buf: Uint8Array, start: number, end: number): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(buf.subarray(start, end)));
  } catch (e) {
    throw new SyntaxError(`Cannot read an event's JSON: ${(e as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new SyntaxError("Cannot read an event's JSON: not an object");
  }
  return v as Record<string, unknown>;
}

/**
 * Records where each field's token is in the line (start -1: absent), checking it has the
 * field's type. Returns 1 when a string of the line holds an escape, 0 when none does, -1 for a
 * line to parse instead.
 */
function scanLine(buf: Uint8Array, at: Line): number {
  const { end, row, cap } = at;
  const { starts, ends } = at.batch;
  for (let f = 0; f < FIELDS; f++) starts[f * cap + row] = -1;
  let i = at.start;
  if (buf[i++] !== 0x7b || buf[end - 1] !== 0x7d || i === end - 1) return -1;
  clearEscape();
  for (let k = 0;;) {
    if (buf[i++] !== Q) return -1;
    const keyAt = i;
    while (i < end && buf[i] !== Q && buf[i] !== BSLASH) i++;
    if (buf[i] !== Q) return -1;
    k = matchKey(buf, keyAt, i, k);
    if (k < 0 || buf[i + 1] !== COLON) return -1;
    i += 2;
    const tokenEnd = skipToken(buf, i, end);
    const kind = KINDS[k]!;
    if (tokenEnd < 0) return -1;
    if (kind === INT) {
      // Read here, once: the column takes the value.
      const v = intValue(buf, i, tokenEnd);
      if (v !== v) return -1;
      at.batch.ints[k * cap + row] = v;
    } else if (!fits(kind, buf, i, tokenEnd)) return -1;
    starts[k * cap + row] = i;
    ends[k * cap + row] = tokenEnd;
    k++;
    i = tokenEnd;
    if (buf[i] !== COMMA) return i === end - 1 ? (sawEscape ? 1 : 0) : -1;
    i++;
  }
}

/** The index, at or after `from`, of the field named `buf[s..e)`; -1 if none. */
function matchKey(buf: Uint8Array, s: number, e: number, from: number): number {
  next: for (let k = from; k < FIELDS; k++) {
    const name = NAMES[k]!;
    if (name.length !== e - s) continue;
    for (let j = 0; j < name.length; j++) if (buf[s + j] !== name[j]) continue next;
    return k;
  }
  return -1;
}

/** Whether the token has the type the field's column takes (else the line is parsed). */
function fits(kind: number, buf: Uint8Array, s: number, e: number): boolean {
  switch (kind) {
    case BOOL:
      return e - s === 4 ? buf[s] === 0x74 : e - s === 5 && buf[s] === 0x66; // true, false
    case TEXT:
      return buf[s] === Q;
    case JSON_VALUE:
      return buf[s] !== 0x6e; // not null
    default:
      return buf[s] === 0x5b && listItems(buf, s, e, null);
  }
}

/** The column builder of one field. */
function column(spec: FieldSpec, type: DataType, capacity: number): Column {
  switch (spec.type) {
    case "int":
    case "ts":
      return new IntColumn(spec, type as Int64, capacity);
    case "bool":
      return new BoolColumn(spec, type as Bool, capacity);
    case "strings":
      return new ListColumn(spec, type as List<Utf8>, capacity);
    default:
      return spec.type === "kind" || spec.lowCardinality
        ? new DictColumn(spec, type as Dictionary<Utf8, Int32>, capacity)
        : new TextColumn(spec, type as Utf8, capacity);
  }
}
