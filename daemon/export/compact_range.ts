/**
 * Compact ranges of the Merkle tree: the fewest complete-subtree hashes that stand in for a run
 * of leaves. A bundle holds the events of seqs [a, b) of a tree of size n; with the compact
 * range of [0, a) (the frontier before its first event) and that of [b, n) (the subtrees after
 * its last), an auditor rebuilds the root of the whole tree from the bundle's rows alone and
 * compares it with the signed checkpoint. Each range is O(log n) hashes.
 */

import { HASH_SIZE, MerkleFrontier, type NodeReader } from "../store/merkle.ts";

/** One complete subtree: leaves [index·2^level, (index+1)·2^level). */
export interface SubtreeRef {
  level: number;
  index: number;
}

/**
 * The maximal complete subtrees covering leaves [from, to), left to right: at each step the
 * largest aligned subtree that starts there and ends by `to`. After `from` leaves have been
 * appended to a frontier, these subtrees can be appended in order with `appendSubtree`.
 */
export function compactRangeLayout(from: number, to: number): SubtreeRef[] {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || from > to) {
    throw new RangeError(`Cannot lay out a Merkle compact range [${from}, ${to})`);
  }
  const out: SubtreeRef[] = [];
  for (let at = from; at < to;) {
    let level = 0;
    while (at % 2 ** (level + 1) === 0 && at + 2 ** (level + 1) <= to) level++;
    out.push({ level, index: at / 2 ** level });
    at += 2 ** level;
  }
  return out;
}

/** The hashes of `compactRangeLayout(from, to)`, read from the tree's node store. */
export function compactRangeHashes(from: number, to: number, reader: NodeReader): Uint8Array[] {
  return compactRangeLayout(from, to).map((s) => reader.node(s.level, s.index).slice());
}

/**
 * Finishes a tree whose leaves up to `frontier.size` have been appended: appends the compact
 * range [frontier.size, size) given by `hashes` and returns the root of the tree of `size`
 * leaves. Throws RangeError when `hashes` is not exactly that range's length of 32-byte hashes.
 */
export function rootWithSuffix(
  frontier: MerkleFrontier,
  size: number,
  hashes: readonly Uint8Array[],
): Uint8Array {
  const layout = compactRangeLayout(frontier.size, size);
  if (layout.length !== hashes.length || hashes.some((h) => h.length !== HASH_SIZE)) {
    throw new RangeError(
      `Cannot finish a Merkle tree from ${frontier.size} to ${size} leaves: want ` +
        `${layout.length} subtree hashes, got ${hashes.length}`,
    );
  }
  const f = frontier.clone();
  layout.forEach((s, i) => f.appendSubtree(s.level, hashes[i]!));
  return f.root();
}
