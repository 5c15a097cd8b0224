/**
 * The dictionary-encoded text columns (`kind` and the low-cardinality strings) of
 * `arrow_json.ts`: ids in order of first appearance, as the object builder's
 * `dictionaryColumn` gives them, so that the IPC bytes are the same.
 */

import { type Data, type Dictionary, type Int32, makeVector, type Utf8 } from "apache-arrow";
import type { FieldSpec } from "../event/model.ts";
import {
  arrowData,
  badValue,
  type Batch,
  Bytes,
  type Column,
  Nulls,
  stringInto,
  tok,
} from "./arrow_json_buffers.ts";

const encoder = new TextEncoder();

/**
 * Dictionary-encoded text: ids in order of first appearance, as `dictionaryColumn` gives them,
 * found by the value's bytes in a hash table (open addressing, FNV-1a), so no string is made per
 * row; a value equal to the row before's is found without hashing. A value is compared in the
 * line itself; only one with an escape, or of a parsed line, is decoded into `#probe` first.
 */
export class DictColumn implements Column {
  readonly #spec: FieldSpec;
  readonly #type: Dictionary<Utf8, Int32>;
  readonly #nulls: Nulls;
  readonly #indices: Int32Array;
  readonly #words: Bytes;
  /** A value decoded to be looked up (escaped strings, parsed lines). */
  readonly #probe: Bytes;
  #slots = new Int32Array(256).fill(-1);

  constructor(spec: FieldSpec, type: Dictionary<Utf8, Int32>, capacity: number) {
    this.#spec = spec;
    this.#type = type;
    this.#nulls = new Nulls(spec, capacity);
    this.#indices = new Int32Array(capacity);
    this.#words = new Bytes(spec.name, 64);
    this.#probe = new Bytes(spec.name, 1);
  }

  fill(b: Batch, base: number): void {
    const probe = this.#probe;
    let last = -1;
    for (let r = 0; r < b.n; r++) {
      const p = b.parsed[r];
      const at = p ? 0 : b.starts[base + r]!;
      // The value's bytes: in the line itself, unless the line was parsed or has an escape.
      let src = b.buf, s = at + 1, e = at < 0 ? 0 : b.ends[base + r]! - 1;
      if (p || (at >= 0 && b.escaped[r] === 1)) {
        if (p) {
          const v = p[this.#spec.name];
          if (v !== undefined && v !== null && typeof v !== "string") {
            throw badValue(r, this.#spec, "is not a string");
          }
          if (typeof v === "string") probe.add(encoder.encode(v), 0, -1);
        } else {
          tok.s = at;
          tok.e = b.ends[base + r]!;
          stringInto(probe, b, r, tok);
        }
        if (probe.count === 0) {
          this.#nulls.clear(r);
          this.#indices[r] = 0;
          continue;
        }
        src = probe.data;
        s = 0;
        e = probe.used;
        probe.used = probe.count = 0;
      } else if (at < 0) {
        this.#nulls.clear(r);
        this.#indices[r] = 0;
        continue;
      }
      last = this.#indices[r] = last >= 0 && this.#same(last, src, s, e)
        ? last
        : this.#id(src, s, e);
    }
  }

  /** Whether `src[s..e)` is word `id`. */
  #same(id: number, src: Uint8Array, s: number, e: number): boolean {
    const w = this.#words;
    const at = w.offsets[id]!, len = w.offsets[id + 1]! - at;
    if (len !== e - s) return false;
    const data = w.data;
    for (let i = 0; i < len; i++) if (data[at + i] !== src[s + i]) return false;
    return true;
  }

  /** The id of the value `src[s..e)`, added when new. */
  #id(src: Uint8Array, s: number, e: number): number {
    const h = hash(src, s, e);
    const mask = this.#slots.length - 1;
    for (let slot = h & mask;; slot = (slot + 1) & mask) {
      const id = this.#slots[slot]!;
      if (id < 0) break;
      if (this.#same(id, src, s, e)) return id;
    }
    const id = this.#words.count;
    this.#words.add(src, s, e);
    if (this.#words.count * 2 > this.#slots.length) this.#rehash(this.#slots.length * 2);
    else this.#place(id, h);
    return id;
  }

  #place(id: number, h: number): void {
    const mask = this.#slots.length - 1;
    let slot = h & mask;
    while (this.#slots[slot]! >= 0) slot = (slot + 1) & mask;
    this.#slots[slot] = id;
  }

  #rehash(size: number): void {
    this.#slots = new Int32Array(size).fill(-1);
    const w = this.#words;
    for (let id = 0; id < w.count; id++) {
      this.#place(id, hash(w.data, w.offsets[id]!, w.offsets[id + 1]!));
    }
  }

  int(): number {
    return NaN;
  }

  finish(n: number): Data {
    const length = this.#words.count;
    const { valueOffsets, data } = this.#words.take();
    const dictionary = makeVector(
      arrowData(this.#type.dictionary, { length, nullCount: 0, nullBitmap: undefined }, {
        valueOffsets,
        values: data,
      }),
    );
    this.#slots.fill(-1);
    const values = this.#indices.subarray(0, n); // a view, as `arrow_json_columns.ts` says
    return arrowData(this.#type, this.#nulls.take(n), { values }, [], dictionary);
  }
}

function hash(data: Uint8Array, s: number, e: number): number {
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
  return h >>> 0;
}
