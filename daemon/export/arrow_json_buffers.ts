/**
 * The buffers the columns built from canonical JSON lines share (`arrow_json_columns.ts`,
 * `arrow_json_dict.ts`): a batch of lines with its field tokens, a Utf8 column's offsets and bytes,
 * a column's nulls, and Arrow data made from them. They match the object builder's buffers
 * (`daemon/event/arrow_buffers.ts`) value for value, so that both give the same IPC bytes, and they
 * are reused from batch to batch: a batch's data are views of them, valid until the next.
 */

import { Data, type DataType, type Vector } from "apache-arrow";
import type { FieldSpec } from "../event/model.ts";

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

const MAX_OFFSET = 0x7fff_ffff;
const BSLASH = 0x5c;
/** UTF-8 as the object builder encodes it (a lone surrogate as U+FFFD). */
export const encoder = new TextEncoder();
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
