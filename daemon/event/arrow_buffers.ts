/**
 * Arrow buffers from plain values: validity bitmaps, Utf8 offsets and bytes, dictionaries. The
 * bytes are exactly what `TextEncoder` gives for each string (a lone surrogate becomes U+FFFD).
 *
 * One `encodeInto` per string pays a native call for a few bytes, which showed in the export
 * benchmark: a column's strings are joined and encoded in one call when they are all ASCII
 * (byte offsets are then the UTF-16 offsets), and only otherwise one by one.
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
/** Above this many UTF-16 units a column is encoded string by string, not joined first. */
const MAX_JOIN = 1 << 26;
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
  c: Common,
): Data {
  const ids = new Map<string, number>();
  const words: string[] = [];
  const indices = new Int32Array(texts.length);
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
): { valueOffsets: Int32Array; data: Uint8Array } {
  const n = texts.length;
  const valueOffsets = new Int32Array(n + 1);
  let units = 0;
  for (let i = 0; i < n; i++) {
    const t = texts[i];
    if (t !== undefined) units += t.length;
    if (units > MAX_OFFSET) throw tooLarge(name);
    valueOffsets[i + 1] = units;
  }
  if (units <= MAX_JOIN) {
    // All ASCII exactly when the joined text fits in one byte per UTF-16 unit: any other code
    // point needs more bytes than units, so encodeInto would stop short.
    const joined = texts.join(""); // join writes undefined as ""
    const data = new Uint8Array(units);
    const r = encoder.encodeInto(joined, data);
    if (r.read === joined.length && r.written === units) return { valueOffsets, data };
  }
  return encodeEach(name, texts, valueOffsets, units);
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
