/**
 * The columns `arrow_json.ts` fills from a batch of canonical JSON lines (dictionary columns in
 * `arrow_json_dict.ts`; the buffers they share in `arrow_json_buffers.ts`): each takes the tokens of its field in every
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

import { type Bool, type Data, type Int64, type List, type Utf8 } from "apache-arrow";
import type { FieldSpec } from "../event/model.ts";
import {
  arrowData,
  badValue,
  type Batch,
  Bytes,
  type Column,
  encoder,
  Nulls,
  stringInto,
  tok,
} from "./arrow_json_buffers.ts";
import { listItems } from "./json_tokens.ts";

const TWO_POW_32 = 4_294_967_296;

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
