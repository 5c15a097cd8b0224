/**
 * The column builder Vigil used before `daemon/event/arrow_columns.ts`, kept verbatim as the
 * oracle of `arrow_columns_test.ts`: the new builder must give the very same Arrow buffers.
 * Slow (a megamorphic `event[name]` read and one `encodeInto` per string), but plainly right.
 */

import {
  Bool,
  type Data,
  type DataType,
  Dictionary,
  type Int32,
  type Int64,
  type List,
  makeData,
  makeVector,
  RecordBatch,
  Struct,
  Table,
  Utf8,
} from "apache-arrow";
import { eventArrowSchema } from "../../../daemon/event/arrow.ts";
import { type AuditEvent, EVENT_FIELDS, type FieldSpec } from "../../../daemon/event/model.ts";

const MAX_OFFSET = 0x7fff_ffff;
const TWO_POW_32 = 4_294_967_296;
const encoder = new TextEncoder();

/** `eventsToArrowTable` as it was. */
export function referenceEventsToArrowTable(events: readonly AuditEvent[]): Table {
  const s = eventArrowSchema();
  const children = EVENT_FIELDS.map((spec, i) => buildColumn(spec, s.fields[i]!.type, events));
  const data = makeData({
    type: new Struct(s.fields),
    length: events.length,
    nullCount: 0,
    children,
  });
  return new Table(s, [new RecordBatch(s, data)]);
}

function buildColumn(spec: FieldSpec, type: DataType, events: readonly AuditEvent[]): Data {
  const n = events.length;
  const valid = new Validity(n);
  const values: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const v = (events[i] as unknown as Record<string, unknown>)[spec.name];
    if (v === undefined || v === null) {
      if (spec.required) throw badValue(i, spec, "is missing");
      valid.clear(i);
    } else values[i] = v;
  }
  const common = { length: n, nullCount: valid.nulls, nullBitmap: valid.bitmap() };
  switch (spec.type) {
    case "int":
    case "ts": {
      const words = new Uint32Array(n * 2); // little-endian int64: low word, then high word
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v === undefined) continue;
        if (typeof v !== "number" || !Number.isSafeInteger(v)) {
          throw badValue(i, spec, "is not a safe integer");
        }
        words[2 * i] = v >>> 0;
        words[2 * i + 1] = Math.floor(v / TWO_POW_32) >>> 0;
      }
      const data = new BigInt64Array(words.buffer);
      return makeData({ type: type as Int64, ...common, data });
    }
    case "bool": {
      const bits = new Uint8Array((n + 7) >> 3);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v === undefined) continue;
        if (typeof v !== "boolean") throw badValue(i, spec, "is not a boolean");
        if (v) bits[i >> 3]! |= 1 << (i & 7);
      }
      return makeData({ type: type as Bool, ...common, data: bits });
    }
    case "strings": {
      const offsets = new Int32Array(n + 1);
      const items = new TextColumn(spec.name);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v !== undefined) {
          if (!Array.isArray(v)) throw badValue(i, spec, "is not an array");
          for (const item of v) {
            if (item !== null && typeof item !== "string") {
              throw badValue(i, spec, "has an item that is not a string or null");
            }
            items.push(item as string | null);
          }
        }
        offsets[i + 1] = items.length;
      }
      const child = items.finish(new Utf8());
      return makeData({ type: type as List<Utf8>, ...common, valueOffsets: offsets, child });
    }
    case "json":
    case "string":
    case "kind": {
      const isJson = spec.type === "json";
      const text: (string | undefined)[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v === undefined) continue;
        if (isJson) text[i] = JSON.stringify(v);
        else if (typeof v === "string") text[i] = v;
        else throw badValue(i, spec, "is not a string");
      }
      return type instanceof Dictionary
        ? dictionaryColumn(spec.name, type as Dictionary<Utf8, Int32>, text, common)
        : textColumn(spec.name, type as Utf8, text, common);
    }
  }
}

interface Common {
  length: number;
  nullCount: number;
  nullBitmap: Uint8Array | undefined;
}

function textColumn(name: string, type: Utf8, text: (string | undefined)[], c: Common): Data {
  const col = new TextColumn(name);
  for (const t of text) col.push(t ?? "");
  const { valueOffsets, data } = col.buffers();
  return makeData({ type, ...c, valueOffsets, data });
}

function dictionaryColumn(
  name: string,
  type: Dictionary<Utf8, Int32>,
  text: (string | undefined)[],
  c: Common,
): Data {
  const ids = new Map<string, number>();
  const words = new TextColumn(name);
  const indices = new Int32Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const t = text[i];
    if (t === undefined) continue;
    let id = ids.get(t);
    if (id === undefined) {
      id = words.length;
      ids.set(t, id);
      words.push(t);
    }
    indices[i] = id;
  }
  const dictionary = makeVector(words.finish(type.dictionary));
  return makeData({ type, ...c, data: indices, dictionary });
}

/** A growing Utf8 column: int32 offsets, UTF-8 bytes and validity. */
class TextColumn {
  readonly #name: string;
  #bytes = new Uint8Array(1024);
  #used = 0;
  #offsets: number[] = [0];
  #nulls: number[] = [];

  constructor(name: string) {
    this.#name = name;
  }

  get length(): number {
    return this.#offsets.length - 1;
  }

  push(s: string | null): void {
    if (s === null) this.#nulls.push(this.length);
    else if (s.length > 0) {
      // Room for the worst case, 3 bytes per UTF-16 unit, makes one encodeInto always enough.
      const need = this.#used + s.length * 3;
      if (need > this.#bytes.length) {
        const grown = new Uint8Array(Math.max(need, this.#bytes.length * 2));
        grown.set(this.#bytes.subarray(0, this.#used));
        this.#bytes = grown;
      }
      this.#used += encoder.encodeInto(s, this.#bytes.subarray(this.#used)).written;
      if (this.#used > MAX_OFFSET) {
        throw new RangeError(
          `Cannot build Arrow column "${this.#name}": over 2 GiB of text; write smaller batches`,
        );
      }
    }
    this.#offsets.push(this.#used);
  }

  buffers(): { valueOffsets: Int32Array; data: Uint8Array } {
    return {
      valueOffsets: Int32Array.from(this.#offsets),
      data: this.#bytes.subarray(0, this.#used),
    };
  }

  finish(type: Utf8): Data<Utf8> {
    const valid = new Validity(this.length);
    for (const i of this.#nulls) valid.clear(i);
    return makeData({
      type,
      length: this.length,
      nullCount: valid.nulls,
      nullBitmap: valid.bitmap(),
      ...this.buffers(),
    });
  }
}

/** An Arrow validity bitmap, all valid until cleared; no bitmap at all when nothing is null. */
class Validity {
  readonly #bits: Uint8Array;
  nulls = 0;

  constructor(length: number) {
    this.#bits = new Uint8Array((length + 7) >> 3).fill(0xff);
  }

  clear(i: number): void {
    this.#bits[i >> 3]! &= ~(1 << (i & 7));
    this.nulls++;
  }

  bitmap(): Uint8Array | undefined {
    return this.nulls === 0 ? undefined : this.#bits;
  }
}

function badValue(index: number, spec: FieldSpec, why: string): TypeError {
  return new TypeError(
    `Cannot convert event at index ${index} to Arrow: field "${spec.name}" ${why}`,
  );
}
