/**
 * Rebuilds `AuditEvent`s from Arrow rows, such that `canonicalJson(rebuilt)` equals the
 * canonical JSON of the event that was written: this is how an exported Parquet file is checked
 * against the Merkle tree offline. Integers and timestamps are read as exact 64-bit words, text
 * as strict UTF-8, JSON columns parsed from the text `JSON.stringify` wrote (which parses and
 * prints back to itself).
 *
 * Readers accept what other Arrow and Parquet tools may hand back for the same data: any
 * number of record batches, Utf8 or LargeUtf8 or dictionary-encoded text, List or LargeList,
 * any integer width. Columns are found by name; columns this schema does not know are ignored,
 * and a missing optional column reads as absent.
 */

import {
  type Data,
  DataType,
  type RecordBatch,
  type Table,
  TimeUnit,
  type Vector,
} from "apache-arrow";
import { type AuditEvent, EVENT_FIELDS, type FieldSpec } from "./model.ts";

type Reader = (row: number) => unknown;
type Readers = readonly (readonly [string, Reader])[];

const TWO_POW_32 = 4_294_967_296;
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The event in row `row` (0-based, across all batches) of a table of events.
 * Throws `RangeError` for a row outside the table, `TypeError` for a column of an unusable type,
 * `SyntaxError` for text that is not UTF-8 or JSON.
 */
export function arrowRowToEvent(table: Table, row: number): AuditEvent {
  if (!Number.isSafeInteger(row) || row < 0 || row >= table.numRows) {
    throw new RangeError(`Cannot read event row ${row}: the table has ${table.numRows} rows`);
  }
  let first = 0;
  for (const batch of table.batches) {
    if (row < first + batch.numRows) return readRow(batchReaders(batch), row - first);
    first += batch.numRows;
  }
  throw new RangeError(`Cannot read event row ${row}: not found in the table's batches`);
}

/** Every event of a table in row order; faster than `arrowRowToEvent` row by row. */
export function* arrowTableEvents(table: Table): Generator<AuditEvent> {
  for (const batch of table.batches) {
    const readers = batchReaders(batch);
    for (let i = 0; i < batch.numRows; i++) yield readRow(readers, i);
  }
}

function readRow(readers: Readers, row: number): AuditEvent {
  const out: Record<string, unknown> = {};
  for (const [name, read] of readers) {
    const v = read(row);
    if (v !== undefined) out[name] = v;
  }
  return out as unknown as AuditEvent;
}

function batchReaders(batch: RecordBatch): Readers {
  const columns = new Map<string, Data>();
  batch.schema.fields.forEach((f, i) => columns.set(f.name, batch.data.children[i]!));
  const readers: [string, Reader][] = [];
  for (const spec of EVENT_FIELDS) {
    const data = columns.get(spec.name);
    if (data === undefined) {
      if (spec.required) throw new TypeError(`Cannot read events: no column "${spec.name}"`);
      continue;
    }
    readers.push([spec.name, fieldReader(spec, data)]);
  }
  return readers;
}

function fieldReader(spec: FieldSpec, data: Data): Reader {
  const name = spec.name;
  switch (spec.type) {
    case "int":
      if (DataType.isInt(data.type)) return withNulls(data, integers(name, data));
      break;
    case "ts":
      if (DataType.isTimestamp(data.type) && data.type.unit === TimeUnit.MICROSECOND) {
        return withNulls(data, integers(name, data));
      }
      break;
    case "bool":
      if (DataType.isBool(data.type)) {
        const bits = data.values as Uint8Array;
        return withNulls(data, (i) => {
          const at = data.offset + i;
          return (bits[at >> 3]! & (1 << (at & 7))) !== 0;
        });
      }
      break;
    case "strings":
      if (DataType.isList(data.type) || DataType.isLargeList(data.type)) {
        const offsets = data.valueOffsets as Int32Array | BigInt64Array;
        const child = data.children[0];
        const item = child && textReader(name, child);
        if (item) {
          const items = withNulls(child, item, null);
          return withNulls(data, (i) => {
            const out: unknown[] = [];
            for (let j = Number(offsets[i]), end = Number(offsets[i + 1]); j < end; j++) {
              out.push(items(j));
            }
            return out;
          });
        }
      }
      break;
    case "json": {
      const text = textReader(name, data);
      if (text) {
        return withNulls(data, (i) => {
          const t = text(i);
          try {
            return JSON.parse(t);
          } catch (e) {
            throw new SyntaxError(`Cannot read column "${name}" at batch row ${i}: not JSON`, {
              cause: e,
            });
          }
        });
      }
      break;
    }
    case "string":
    case "kind": {
      const text = textReader(name, data);
      if (text) return withNulls(data, text);
      break;
    }
  }
  throw new TypeError(`Cannot read events: column "${name}" has Arrow type ${data.type}`);
}

/** Wraps a value reader so that null slots read as `absent` instead. */
function withNulls(data: Data, read: Reader, absent: unknown = undefined): Reader {
  if (data.nullCount === 0) return read;
  return (i) => data.getValid(i) ? read(i) : absent;
}

/** 64-bit words are read as two 32-bit halves: exact, and no BigInt per value. */
function integers(name: string, data: Data): Reader {
  const values = data.values as ArrayLike<number | bigint> & ArrayBufferView;
  if (!(values instanceof BigInt64Array || values instanceof BigUint64Array)) {
    return (i) => Number(values[i]);
  }
  const lo = new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
  const hi = values instanceof BigInt64Array
    ? new Int32Array(values.buffer, values.byteOffset, values.length * 2)
    : lo;
  return (i) => {
    const v = hi[2 * i + 1]! * TWO_POW_32 + lo[2 * i]!;
    if (!Number.isSafeInteger(v)) {
      throw new RangeError(`Cannot read column "${name}" at ${i}: ${values[i]} is not safe`);
    }
    return v;
  };
}

/** A reader of strings from Utf8, LargeUtf8 or a dictionary of those; undefined otherwise. */
function textReader(name: string, data: Data): ((i: number) => string) | undefined {
  if (DataType.isUtf8(data.type) || DataType.isLargeUtf8(data.type)) {
    const offsets = data.valueOffsets as Int32Array | BigInt64Array;
    const bytes = data.values as Uint8Array;
    return (i) => {
      const view = bytes.subarray(Number(offsets[i]), Number(offsets[i + 1]));
      try {
        return strict.decode(view);
      } catch (e) {
        throw new SyntaxError(`Cannot read column "${name}" at ${i}: not UTF-8`, { cause: e });
      }
    };
  }
  if (DataType.isDictionary(data.type) && data.dictionary) {
    const words = dictionaryWords(name, data.dictionary);
    if (!words) return undefined;
    const indices = integers(name, data);
    return (i) => {
      const k = indices(i) as number;
      const s = words(k);
      if (s === undefined) {
        throw new RangeError(`Cannot read column "${name}" at ${i}: no dictionary entry ${k}`);
      }
      return s;
    };
  }
  return undefined;
}

/** Dictionary entries, decoded once each; a dictionary may arrive in several chunks. */
function dictionaryWords(
  name: string,
  dictionary: Vector,
): ((k: number) => string | undefined) | undefined {
  const chunks: [start: number, read: (i: number) => string][] = [];
  let start = 0;
  for (const chunk of dictionary.data) {
    const read = textReader(name, chunk);
    if (!read) return undefined;
    chunks.push([start, read]);
    start += chunk.length;
  }
  const cache: (string | undefined)[] = [];
  return (k) => {
    let s = cache[k];
    if (s !== undefined || !Number.isInteger(k) || k < 0 || k >= start) return s;
    let c = chunks.length - 1;
    while (chunks[c]![0] > k) c--;
    cache[k] = s = chunks[c]![1](k - chunks[c]![0]);
    return s;
  };
}
