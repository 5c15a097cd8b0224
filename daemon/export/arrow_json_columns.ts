/**
 * The columns `arrow_json.ts` fills from a batch of canonical JSON lines (dictionary columns in
 * `arrow_json_dict.ts`), and the buffers they share: each takes the tokens of its field in every
 * line of the batch in one loop, and builds the Arrow data the object builder
 * (`daemon/event/arrow_columns.ts`) builds for the same values — the same buffers and nulls — so
 * that the IPC bytes are the same. A line that was parsed instead (`Batch.parsed`) is added from
 * its value, with the object builder's checks and errors.
 *
 * A batch's data are views of the columns' own buffers, valid until the next batch is filled:
 * the encoder copies each table into its IPC stream before it asks for the next
 * (`parquetTableStream`), and copies made here cost an allocation and a copy per column and
 * batch, and their garbage.
 */

import {
  type Bool,
  Data,
  type DataType,
  type Int64,
  type List,
  type Utf8,
  type Vector,
} from "apache-arrow";
import type { FieldSpec } from "../event/model.ts";
import { listItems } from "./json_tokens.ts";

/** A batch of lines and where each field's token is in each (start -1: absent). */
export interface Batch {
  buf: Uint8Array;
  n: number;
  /** Token of field f in line r at `starts[f · capacity + r]`..`ends[…]`. */
  starts: Int32Array;
  ends: Int32Array;
  /** The value of an integer field's token, at the same place. */
  ints: Float64Array;
  /** A line read with JSON.parse, else undefined. */
  parsed: (Record<string, unknown> | undefined)[];
  /** 1 where a string of the line holds an escape. */
  escaped: Uint8Array;
}

/** A column's length, null count and bitmap, as `Nulls.take` gives them. */
export interface NullsOf {
  length: number;
  nullCount: number;
  nullBitmap: Uint8Array | undefined;
}

/**
 * Arrow data from its buffers, as `makeData` makes it (an absent bitmap as an empty one), without
 * `makeData`'s dispatch on the type: ~7 µs a column and batch, ~5,000 times in an export of
 * 200k events.
 */
export function arrowData(
  type: DataType,
  nulls: NullsOf,
  buffers: { valueOffsets?: Int32Array; values?: ArrayBufferView },
  children: Data[] = [],
  dictionary?: Vector,
): Data {
  const { valueOffsets, values } = buffers;
  const bitmap = nulls.nullBitmap ?? new Uint8Array(0);
  return new Data(
    type,
    0,
    nulls.length,
    nulls.nullCount,
    [
      valueOffsets,
      values,
      bitmap,
    ] as never,
    children,
    dictionary,
  );
}

/** A column being filled a batch at a time. */
export interface Column {
  /** Adds the batch's values, this column's tokens starting at `base` in `starts`/`ends`. */
  fill(b: Batch, base: number): void;
  /** Row `r`'s value (integer columns: the seq). */
  int(r: number): number;
  /** The data of the `n` rows filled; the column is then empty. */
  finish(n: number): Data;
}

const TWO_POW_32 = 4_294_967_296;
const MAX_OFFSET = 0x7fff_ffff;
const BSLASH = 0x5c;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The bytes a JSON string token `buf[s..e)` (quotes included) stands for, into `to`: when the
 * line has no escape they are the token's own, else the string decoded and encoded again, as
 * `TextEncoder` encodes it (a lone surrogate as U+FFFD).
 */
export function stringInto(to: Bytes, b: Batch, r: number, tok: { s: number; e: number }): void {
  const { buf } = b;
  if (b.escaped[r] === 1) {
    for (let i = tok.s + 1; i < tok.e - 1; i++) {
      if (buf[i] === BSLASH) {
        const text = JSON.parse(decoder.decode(buf.subarray(tok.s, tok.e))) as string;
        return to.add(encoder.encode(text), 0, -1);
      }
    }
  }
  to.add(buf, tok.s + 1, tok.e - 1);
}

/** Bytes appended one value at a time, with Int32 offsets: a Utf8 column's two buffers. */
export class Bytes {
  readonly #name: string;
  offsets: Int32Array;
  data = new Uint8Array(64 * 1024);
  used = 0;
  count = 0;

  constructor(name: string, capacity: number) {
    this.#name = name;
    this.offsets = new Int32Array(capacity + 1);
  }

  /** Appends `src[s..e)` as the next value (`e` -1: all of `src`). */
  add(src: Uint8Array, s: number, e: number): void {
    const end = e < 0 ? src.length : e;
    const need = this.used + end - s;
    if (need > this.data.length) this.#grow(need);
    const data = this.data;
    if (end - s < 64) {
      let at = this.used;
      for (let i = s; i < end; i++) data[at++] = src[i]!;
    } else data.set(src.subarray(s, end), this.used);
    this.used = need;
    this.#offset();
  }

  /** Appends an empty value (a null). */
  none(): void {
    this.#offset();
  }

  #offset(): void {
    if (++this.count >= this.offsets.length) {
      const grown = new Int32Array(this.offsets.length * 2);
      grown.set(this.offsets);
      this.offsets = grown;
    }
    this.offsets[this.count] = this.used;
  }

  #grow(need: number): void {
    if (need > MAX_OFFSET) {
      throw new RangeError(
        `Cannot build Arrow column "${this.#name}": over 2 GiB of text; write smaller batches`,
      );
    }
    const grown = new Uint8Array(Math.max(need, this.data.length * 2));
    grown.set(this.data.subarray(0, this.used));
    this.data = grown;
  }

  /** Offsets and bytes of the values, as views valid until the next value; then empty. */
  take(): { valueOffsets: Int32Array; data: Uint8Array } {
    const out = {
      valueOffsets: this.offsets.subarray(0, this.count + 1),
      data: this.data.subarray(0, this.used),
    };
    this.used = this.count = 0;
    return out;
  }
}

/** Nulls of a column: no bitmap until the first, as `Validity` in `arrow_buffers.ts`. */
export class Nulls {
  readonly #spec: FieldSpec;
  readonly #capacity: number;
  #bits: Uint8Array | undefined;
  #count = 0;

  constructor(spec: FieldSpec, capacity: number) {
    this.#spec = spec;
    this.#capacity = capacity;
  }

  clear(r: number): void {
    if (this.#spec.required) throw badValue(r, this.#spec, "is missing");
    this.#bits ??= new Uint8Array((this.#capacity + 7) >> 3).fill(0xff);
    this.#bits[r >> 3]! &= ~(1 << (r & 7));
    this.#count++;
  }

  /** The length, null count and bitmap of `n` rows; then none. */
  take(n: number): NullsOf {
    const out = {
      length: n,
      nullCount: this.#count,
      nullBitmap: this.#bits?.subarray(0, (n + 7) >> 3), // handed over: a new one comes next
    };
    this.#bits = undefined;
    this.#count = 0;
    return out;
  }
}

export function badValue(r: number, spec: FieldSpec, why: string): TypeError {
  return new TypeError(`Cannot convert event at index ${r} to Arrow: field "${spec.name}" ${why}`);
}

/** A token's place, reused from value to value. */
export const tok = { s: 0, e: 0 };

export class IntColumn implements Column {
  readonly #spec: FieldSpec;
  readonly #type: Int64;
  readonly #nulls: Nulls;
  readonly #words: Uint32Array;

  constructor(spec: FieldSpec, type: Int64, capacity: number) {
    this.#spec = spec;
    this.#type = type;
    this.#nulls = new Nulls(spec, capacity);
    this.#words = new Uint32Array(capacity * 2);
  }

  fill(b: Batch, base: number): void {
    const words = this.#words, { starts, ints } = b;
    for (let r = 0; r < b.n; r++) {
      const p = b.parsed[r];
      let v: unknown;
      if (p) v = p[this.#spec.name];
      else {
        const s = starts[base + r]!;
        v = s < 0 ? undefined : ints[base + r]!;
      }
      if (v === undefined || v === null) {
        this.#nulls.clear(r);
        words[2 * r] = words[2 * r + 1] = 0;
        continue;
      }
      if (typeof v !== "number" || !Number.isSafeInteger(v)) {
        throw badValue(r, this.#spec, "is not a safe integer");
      }
      words[2 * r] = v >>> 0;
      words[2 * r + 1] = Math.floor(v / TWO_POW_32) >>> 0;
    }
  }

  int(r: number): number {
    return (this.#words[2 * r + 1]! | 0) * TWO_POW_32 + this.#words[2 * r]!;
  }

  finish(n: number): Data {
    const values = new BigInt64Array(this.#words.buffer, 0, n);
    return arrowData(this.#type, this.#nulls.take(n), { values });
  }
}

export class BoolColumn implements Column {
  readonly #spec: FieldSpec;
  readonly #type: Bool;
  readonly #nulls: Nulls;
  readonly #bits: Uint8Array;

  constructor(spec: FieldSpec, type: Bool, capacity: number) {
    this.#spec = spec;
    this.#type = type;
    this.#nulls = new Nulls(spec, capacity);
    this.#bits = new Uint8Array((capacity + 7) >> 3);
  }

  fill(b: Batch, base: number): void {
    this.#bits.fill(0); // here, not in finish(): the last batch's table still uses the bits
    for (let r = 0; r < b.n; r++) {
      const p = b.parsed[r];
      const s = p ? 0 : b.starts[base + r]!;
      const v = p ? p[this.#spec.name] : s < 0 ? undefined : b.buf[s] === 0x74;
      if (v === undefined || v === null) this.#nulls.clear(r);
      else if (typeof v !== "boolean") throw badValue(r, this.#spec, "is not a boolean");
      else if (v) this.#bits[r >> 3]! |= 1 << (r & 7);
    }
  }

  int(): number {
    return NaN;
  }

  finish(n: number): Data {
    const values = this.#bits.subarray(0, (n + 7) >> 3);
    return arrowData(this.#type, this.#nulls.take(n), { values });
  }
}

/** Utf8 text; a `json` field as the text `JSON.stringify` gives, which its token already is. */
export class TextColumn implements Column {
  readonly #spec: FieldSpec;
  readonly #type: Utf8;
  readonly #nulls: Nulls;
  readonly #bytes: Bytes;

  constructor(spec: FieldSpec, type: Utf8, capacity: number) {
    this.#spec = spec;
    this.#type = type;
    this.#nulls = new Nulls(spec, capacity);
    this.#bytes = new Bytes(spec.name, capacity);
  }

  fill(b: Batch, base: number): void {
    const isJson = this.#spec.type === "json", out = this.#bytes;
    for (let r = 0; r < b.n; r++) {
      const p = b.parsed[r];
      if (p) {
        this.#value(r, p[this.#spec.name]);
        continue;
      }
      const s = b.starts[base + r]!;
      if (s < 0) {
        this.#nulls.clear(r);
        out.none();
      } else if (isJson) out.add(b.buf, s, b.ends[base + r]!);
      else if (b.escaped[r] === 0) out.add(b.buf, s + 1, b.ends[base + r]! - 1); // its bytes
      else {
        tok.s = s;
        tok.e = b.ends[base + r]!;
        stringInto(out, b, r, tok);
      }
    }
  }

  #value(r: number, v: unknown): void {
    if (v === undefined || v === null) {
      this.#nulls.clear(r);
      return this.#bytes.none();
    }
    if (this.#spec.type === "json") this.#bytes.add(encoder.encode(JSON.stringify(v)), 0, -1);
    else if (typeof v === "string") this.#bytes.add(encoder.encode(v), 0, -1);
    else throw badValue(r, this.#spec, "is not a string");
  }

  int(): number {
    return NaN;
  }

  finish(n: number): Data {
    const { valueOffsets, data } = this.#bytes.take();
    return arrowData(this.#type, this.#nulls.take(n), { valueOffsets, values: data });
  }
}

/** A list of nullable strings (`params`). */
export class ListColumn implements Column {
  readonly #spec: FieldSpec;
  readonly #type: List<Utf8>;
  readonly #nulls: Nulls;
  readonly #offsets: Int32Array;
  readonly #items: Bytes;
  #itemNulls: number[] = [];

  constructor(spec: FieldSpec, type: List<Utf8>, capacity: number) {
    this.#spec = spec;
    this.#type = type;
    this.#nulls = new Nulls(spec, capacity);
    this.#offsets = new Int32Array(capacity + 1);
    this.#items = new Bytes(spec.name, 1024);
  }

  fill(b: Batch, base: number): void {
    const items = this.#items;
    const item = (s: number, e: number, r: number): void => {
      if (s < 0) {
        this.#itemNulls.push(items.count);
        items.none();
      } else {
        tok.s = s;
        tok.e = e;
        stringInto(items, b, r, tok);
      }
    };
    for (let r = 0; r < b.n; r++) {
      const p = b.parsed[r];
      const s = p ? 0 : b.starts[base + r]!;
      if (p) this.#value(r, p[this.#spec.name]);
      else if (s < 0) this.#nulls.clear(r);
      else listItems(b.buf, s, b.ends[base + r]!, (is, ie) => item(is, ie, r));
      this.#offsets[r + 1] = items.count;
    }
  }

  #value(r: number, v: unknown): void {
    if (v === undefined || v === null) return this.#nulls.clear(r);
    if (!Array.isArray(v)) throw badValue(r, this.#spec, "is not an array");
    for (const it of v) {
      if (it === null) {
        this.#itemNulls.push(this.#items.count);
        this.#items.none();
      } else if (typeof it === "string") this.#items.add(encoder.encode(it), 0, -1);
      else throw badValue(r, this.#spec, "has an item that is not a string or null");
    }
  }

  int(): number {
    return NaN;
  }

  finish(n: number): Data {
    const count = this.#items.count;
    let nullBitmap: Uint8Array | undefined;
    if (this.#itemNulls.length > 0) {
      nullBitmap = new Uint8Array((count + 7) >> 3).fill(0xff);
      for (const k of this.#itemNulls) nullBitmap[k >> 3]! &= ~(1 << (k & 7));
    }
    const items = this.#items.take();
    const child = arrowData(
      this.#type.children[0]!.type as Utf8,
      { length: count, nullCount: this.#itemNulls.length, nullBitmap },
      { valueOffsets: items.valueOffsets, values: items.data },
    );
    // Every row's end offset is set by the next fill; the first stays 0.
    const valueOffsets = this.#offsets.subarray(0, n + 1);
    this.#itemNulls = [];
    return arrowData(this.#type, this.#nulls.take(n), { valueOffsets }, [child]);
  }
}
