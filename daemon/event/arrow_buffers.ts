/**
 * Arrow buffers from plain values: validity bitmaps, Utf8 offsets and bytes, dictionaries. The
 * bytes are exactly what `TextEncoder` gives for each string (a lone surrogate becomes U+FFFD).
 *
 * One `encodeInto` per string pays a native call for a few bytes, which showed in the export
 * benchmark: a column's strings are joined, a run of them at a time, and encoded in one call
 * per run when they are all ASCII (byte offsets are then the UTF-16 offsets), and only otherwise
 * one by one.
 */

import {
  type Data,
  type Dictionary,
  type Int32,
  makeData,
  makeVector,
  type Utf8,
} from "apache-arrow";

const MAX_OFFSET = 0x7fff_ffff;

/**
 * Where column builders get their typed arrays and string slots, by a key naming the column and
 * the buffer. `FRESH` allocates anew each time. A `BufferPool` hands back the same memory on
 * every build (zeroed where asked), which pays on machines where the first write to freshly
 * mapped memory is slow (a row group's ~40 MB took ~90 ms to touch here); a table built from a
 * pool is valid only until the next build from the same pool.
 */
export interface Alloc {
  u8(key: string, n: number, zero: boolean): Uint8Array<ArrayBuffer>;
  i32(key: string, n: number): Int32Array<ArrayBuffer>;
  u32(key: string, n: number): Uint32Array<ArrayBuffer>;
  /** `n` string slots, holding anything: the caller sets every one. */
  slots(key: string, n: number): (string | undefined)[];
}

/** Allocates anew on every call. */
export const FRESH: Alloc = {
  u8: (_key, n) => new Uint8Array(n),
  i32: (_key, n) => new Int32Array(n),
  u32: (_key, n) => new Uint32Array(n),
  slots: (_key, n) => new Array(n),
};

/** Buffers kept from one build to the next (see `Alloc`). */
export class BufferPool implements Alloc {
  #u8 = new Map<string, Uint8Array<ArrayBuffer>>();
  #i32 = new Map<string, Int32Array<ArrayBuffer>>();
  #u32 = new Map<string, Uint32Array<ArrayBuffer>>();
  #slots = new Map<string, (string | undefined)[]>();

  u8(key: string, n: number, zero: boolean): Uint8Array<ArrayBuffer> {
    const a = reuse(this.#u8, key, n, (m) => new Uint8Array(m));
    if (zero) a.fill(0);
    return a;
  }

  i32(key: string, n: number): Int32Array<ArrayBuffer> {
    return reuse(this.#i32, key, n, (m) => new Int32Array(m)).fill(0);
  }

  u32(key: string, n: number): Uint32Array<ArrayBuffer> {
    return reuse(this.#u32, key, n, (m) => new Uint32Array(m)).fill(0);
  }

  slots(key: string, n: number): (string | undefined)[] {
    let a = this.#slots.get(key);
    if (!a) this.#slots.set(key, a = new Array(n));
    // Not cleared: fill() took ~5 ms a column of 128k slots here, as long as the build itself.
    a.length = n;
    return a;
  }
}

function reuse<
  T extends Uint8Array<ArrayBuffer> | Int32Array<ArrayBuffer> | Uint32Array<ArrayBuffer>,
>(
  kept: Map<string, T>,
  key: string,
  n: number,
  make: (n: number) => T,
): T {
  let a = kept.get(key);
  // Room to spare, so that a slightly longer text column next time needs no new buffer.
  if (!a || a.length < n) kept.set(key, a = make(n + (n >> 3) + 64));
  return a.subarray(0, n) as T;
}
/** UTF-16 units of text joined for one `encodeInto` call. */
const JOIN_UNITS = 1 << 14;
const encoder = new TextEncoder();

/** The length, null count and validity of a column, as `makeData` takes them. */
export interface Common {
  length: number;
  nullCount: number;
  nullBitmap: Uint8Array | undefined;
}

/**
 * A dictionary column of `texts` (undefined for a null). Ids follow first appearance, so the
 * same texts always give the same dictionary.
 */
export function dictionaryColumn(
  name: string,
  type: Dictionary<Utf8, Int32>,
  texts: readonly (string | undefined)[],
  opts: { common: Common; alloc?: Alloc },
): Data {
  const c = opts.common;
  const ids = new Map<string, number>();
  const words: string[] = [];
  const indices = (opts.alloc ?? FRESH).i32(`${name}.indices`, texts.length);
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i];
    if (t === undefined) continue;
    let id = ids.get(t);
    if (id === undefined) {
      id = words.length;
      ids.set(t, id);
      words.push(t);
    }
    indices[i] = id;
  }
  const dictionary = makeVector(
    makeData({
      type: type.dictionary,
      length: words.length,
      nullCount: 0,
      nullBitmap: undefined,
      ...encodeTexts(name, words),
    }),
  );
  return makeData({ type, ...c, data: indices, dictionary });
}

/** Int32 offsets and the UTF-8 bytes of `texts`; an undefined text is empty (a null slot). */
export function encodeTexts(
  name: string,
  texts: readonly (string | undefined)[],
  alloc: Alloc = FRESH,
): { valueOffsets: Int32Array; data: Uint8Array } {
  const n = texts.length;
  const valueOffsets = alloc.i32(`${name}.offsets`, n + 1);
  let units = 0;
  for (let i = 0; i < n; i++) {
    const t = texts[i];
    if (t !== undefined) units += t.length;
    if (units > MAX_OFFSET) throw tooLarge(name);
    valueOffsets[i + 1] = units;
  }
  const data = alloc.u8(`${name}.data`, units, false);
  if (encodeAscii(texts, valueOffsets, data)) return { valueOffsets, data };
  return encodeEach(name, texts, valueOffsets, units);
}

/**
 * Encodes `texts` into `data` at their offsets, a run of strings joined per `encodeInto`; false
 * when they are not all ASCII. All ASCII exactly when each joined run fits in one byte per
 * UTF-16 unit: any other code point needs more bytes than units, so encodeInto stops short.
 * Runs of ~`JOIN_UNITS` keep each joined string small: one string of a whole column is a fresh
 * large allocation on every row group.
 */
function encodeAscii(
  texts: readonly (string | undefined)[],
  offsets: Int32Array,
  data: Uint8Array,
): boolean {
  const n = texts.length;
  for (let from = 0; from < n;) {
    const start = offsets[from]!;
    let to = from, run = "";
    while (to < n && offsets[to]! - start < JOIN_UNITS) {
      const t = texts[to++];
      if (t !== undefined) run += t;
    }
    const end = offsets[to]!;
    const r = encoder.encodeInto(run, data.subarray(start, end));
    if (r.read !== run.length || r.written !== end - start) return false;
    from = to;
  }
  return true;
}

/** The general case: each string encoded on its own (a lone surrogate must not pair across). */
function encodeEach(
  name: string,
  texts: readonly (string | undefined)[],
  valueOffsets: Int32Array,
  units: number,
): { valueOffsets: Int32Array; data: Uint8Array } {
  let bytes = new Uint8Array(Math.min(MAX_OFFSET, units + (units >> 1) + 16));
  let used = 0;
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i];
    if (t !== undefined && t.length > 0) {
      // Room for the worst case, 3 bytes per UTF-16 unit, makes one encodeInto always enough.
      const need = used + t.length * 3;
      if (need > bytes.length) {
        const grown = new Uint8Array(Math.max(need, bytes.length * 2));
        grown.set(bytes.subarray(0, used));
        bytes = grown;
      }
      used += encoder.encodeInto(t, bytes.subarray(used)).written;
      if (used > MAX_OFFSET) throw tooLarge(name);
    }
    valueOffsets[i + 1] = used;
  }
  return { valueOffsets, data: bytes.subarray(0, used) };
}

/** An Arrow validity bitmap, all valid until cleared; no bitmap at all when nothing is null. */
export class Validity {
  readonly #length: number;
  #bits: Uint8Array | undefined;
  nulls = 0;

  constructor(length: number) {
    this.#length = length;
  }

  clear(i: number): void {
    // Allocated at the first null: most columns have none.
    this.#bits ??= new Uint8Array((this.#length + 7) >> 3).fill(0xff);
    this.#bits[i >> 3]! &= ~(1 << (i & 7));
    this.nulls++;
  }

  /** The length, null count and bitmap of `makeData`'s arguments. */
  common(): Common {
    return { length: this.#length, nullCount: this.nulls, nullBitmap: this.#bits };
  }
}

function tooLarge(name: string): RangeError {
  return new RangeError(
    `Cannot build Arrow column "${name}": over 2 GiB of text; write smaller batches`,
  );
}
