/**
 * Keys of the attributed filter fields in the index's `fields` table (see `links.ts`): one
 * integer per (field, value) pair, the field's position in {@link ATTRIBUTED_FIELDS} above a
 * 28-bit hash of the value's text, so that a key fits SQLite's 4-byte integer. Those values are
 * near-unique (a session id, a transaction id), so a dictionary of them as `names` rows cost more
 * than the rows that use them; a hash costs nothing to store and nothing to look up.
 *
 * Promise: equal (field, value) pairs give equal keys. Different pairs may collide, but a lookup
 * is by block, and another value of the same field in the same block of 65,536 seqs has odds of
 * about 1 in 4,000 of sharing a key: the index then nominates an event that does not match, which
 * every search drops when it tests the event read from the log (`search.ts`); only
 * `EventIndex.count()` may count it.
 *
 * `fields` rows are keyed by the block of seqs they belong to ({@link FIELD_SHIFT}) first, so
 * that retention deletes the rows of deleted events by a range of the primary key, without a
 * second index by seq, and a lookup seeks once per block; they hold the seq's offset in its
 * block ({@link fieldOffset}), two or three bytes where the seq took four.
 */

import type { AuditEvent } from "../event/model.ts";
import { ATTRIBUTED_FIELDS, type AttributedField, attributedValue } from "./filter.ts";

/** log2 of the seqs of one block of `fields` rows. */
export const FIELD_SHIFT = 16;

const HASH_BITS = 2 ** 28;

/** The block of `fields` rows of `seq`. */
export function fieldBlock(seq: number): number {
  return Math.floor(seq / 2 ** FIELD_SHIFT);
}

/** The offset of `seq` in its block of `fields` rows. */
export function fieldOffset(seq: number): number {
  return seq % 2 ** FIELD_SHIFT;
}

/**
 * The key of a field's value: 53 bits of cyrb53 over the UTF-16 code units (the value is
 * well-formed already, see `attributedValue`), cut to 28, below the field's number (at most 5:
 * the key stays under 2^31).
 */
export function fieldKey(name: AttributedField, value: string): number {
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  const h53 = 4294967296 * (2097151 & h2) + (h1 >>> 0);
  return ATTRIBUTED_FIELDS.indexOf(name) * HASH_BITS + (h53 % HASH_BITS);
}

/** The keys of the attributed fields `ev` has, in {@link ATTRIBUTED_FIELDS} order. */
export function eventFieldKeys(ev: AuditEvent): number[] {
  const keys: number[] = [];
  for (const name of ATTRIBUTED_FIELDS) {
    const v = attributedValue(ev, name);
    if (v !== undefined) keys.push(fieldKey(name, v));
  }
  return keys;
}

/**
 * `fields` rows (flat block, key, offset triples) in primary-key order: SQLite inserts a sorted
 * batch into its B-tree about a third faster than one in seq order, whose keys are scattered
 * over the block (2.9M rows in batches of 32,768 events: 2.5 → 1.7 s).
 */
export function sortedFields(fields: readonly number[]): number[] {
  const byBlock = new Map<number, number[]>();
  for (let i = 0; i < fields.length; i += 3) {
    const block = fields[i]!;
    let packed = byBlock.get(block);
    if (packed === undefined) byBlock.set(block, packed = []);
    // Key below 2^31 and offset below 2^16: their pair fits a double exactly, in key order.
    packed.push(fields[i + 1]! * 2 ** FIELD_SHIFT + fields[i + 2]!);
  }
  const out: number[] = [];
  for (const block of [...byBlock.keys()].sort((a, b) => a - b)) {
    const packed = Float64Array.from(byBlock.get(block)!).sort();
    for (const p of packed) out.push(block, Math.floor(p / 2 ** FIELD_SHIFT), p % 2 ** FIELD_SHIFT);
  }
  return out;
}
