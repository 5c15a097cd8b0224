/**
 * The Merkle nodes below the stored levels: the tree is cut into blocks of 2^BLOCK_LEVEL leaves,
 * and only nodes of level BLOCK_LEVEL and up live in files (`merkle_levels.ts`). Every node below
 * is a function of its block's leaf hashes, which the log holds (`merkle_log.ts` reads them), so
 * keeping them would cost 32 bytes an event for nothing a proof cannot rebuild from 64 records.
 * This module derives them: `buildBlock` computes every node of one block that its known leaves
 * (and, for a block retention cut, the subtree roots kept in `retained.json`) determine, and
 * `blockRoots` reduces runs of complete blocks to their level-BLOCK_LEVEL roots for the writer.
 * Pure: no I/O.
 */

import { HASH_SIZE, type MerkleFrontierJSON } from "./merkle.ts";
import { nativeHash } from "./native_hash.ts";
import { sha256Into } from "./sha256.ts";

/** The lowest level kept on disk; nodes below it are derived from a block's leaves. */
export const BLOCK_LEVEL = 6;
/** Leaves in a block: 2^BLOCK_LEVEL. */
export const BLOCK_LEAVES = 1 << BLOCK_LEVEL;

/** The file name of a stored level (`level-06.bin` …), as the writer and verify name it. */
export function levelFileName(level: number): string {
  return `level-${String(level).padStart(2, "0")}.bin`;
}

/** A complete subtree's root known without its leaves: leaves [index·2^level, (index+1)·2^level). */
export interface SubtreeRoot {
  level: number;
  index: number;
  hash: Uint8Array;
}

/** The derivable nodes of levels [0, BLOCK_LEVEL) of one block. */
export class BlockNodes {
  readonly block: number;
  /** Leaves [block start, block start + leaves) are all known: nothing later changes them. */
  readonly leaves: number;
  readonly #levels: Uint8Array[];
  readonly #known: Uint8Array[];

  constructor(block: number, leaves: number, levels: Uint8Array[], known: Uint8Array[]) {
    this.block = block;
    this.leaves = leaves;
    this.#levels = levels;
    this.#known = known;
  }

  /** Node `index` (absolute) of `level` < BLOCK_LEVEL, or null when this block cannot give it. */
  get(level: number, index: number): Uint8Array | null {
    const width = BLOCK_LEAVES >> level;
    const local = index - this.block * width;
    if (level < 0 || level >= BLOCK_LEVEL || local < 0 || local >= width) return null;
    if (this.#known[level]![local] !== 1) return null;
    return this.#levels[level]!.subarray(local * HASH_SIZE, (local + 1) * HASH_SIZE);
  }
}

/**
 * The nodes of block `block` derivable from `leaves` (BLOCK_LEAVES leaf hashes, slot i valid
 * where `leafKnown[i]` is 1) and from `roots` (subtrees of levels below BLOCK_LEVEL whose leaves
 * are gone). Its `leaves` counts the leading known leaves, for readers of a growing tail.
 */
export function buildBlock(
  block: number,
  leaves: Uint8Array,
  leafKnown: Uint8Array,
  roots: readonly SubtreeRoot[] = [],
): BlockNodes {
  const levels = [leaves.slice(0, BLOCK_LEAVES * HASH_SIZE)];
  const known = [leafKnown.slice(0, BLOCK_LEAVES)];
  const place = (level: number): void => {
    for (const r of roots) {
      const local = r.index - block * (BLOCK_LEAVES >> r.level);
      if (r.level !== level || local < 0 || local >= BLOCK_LEAVES >> level) continue;
      levels[level]!.set(r.hash, local * HASH_SIZE);
      known[level]![local] = 1;
    }
  };
  place(0);
  for (let level = 1; level < BLOCK_LEVEL; level++) {
    const n = BLOCK_LEAVES >> level;
    const out = new Uint8Array(n * HASH_SIZE);
    hashPairs(levels[level - 1]!, n, out);
    const below = known[level - 1]!, k = new Uint8Array(n);
    for (let i = 0; i < n; i++) k[i] = below[2 * i]! & below[2 * i + 1]!;
    levels.push(out);
    known.push(k);
    place(level);
  }
  let leading = 0;
  while (leading < BLOCK_LEAVES && leafKnown[leading] === 1) leading++;
  return new BlockNodes(block, leading, levels, known);
}

/**
 * The level-BLOCK_LEVEL roots of `blocks` complete blocks whose leaf hashes lie back to back in
 * `leaves`: each level halved in one pass over the batch.
 */
export function blockRoots(leaves: Uint8Array, blocks: number): Uint8Array {
  let nodes = leaves.subarray(0, blocks * BLOCK_LEAVES * HASH_SIZE);
  for (let level = 0; level < BLOCK_LEVEL; level++) {
    const n = nodes.length / (2 * HASH_SIZE);
    const out = new Uint8Array(n * HASH_SIZE);
    hashPairs(nodes, n, out);
    nodes = out;
  }
  return nodes;
}

const pair = new Uint8Array(1 + 2 * HASH_SIZE);
pair[0] = 0x01;

/** out[i] = SHA-256(0x01 ‖ nodes[2i] ‖ nodes[2i+1]) for i < n. */
export function hashPairs(nodes: Uint8Array, n: number, out: Uint8Array): void {
  if (n === 0) return;
  if (nativeHash) return nativeHash.nodePairs(nodes, n, out);
  for (let i = 0; i < n; i++) {
    pair.set(nodes.subarray(2 * i * HASH_SIZE, (2 * i + 2) * HASH_SIZE), 1);
    sha256Into(pair, out, i * HASH_SIZE);
  }
}

/**
 * The subtree roots of a frontier (the compact range of [0, size), as `retained.json` keeps it)
 * below BLOCK_LEVEL: they tile the start of the block holding leaf `size`, whose leaves are gone.
 */
export function frontierTailRoots(frontier: MerkleFrontierJSON): SubtreeRoot[] {
  const roots: SubtreeRoot[] = [];
  let start = 0, i = 0;
  // The frontier's nodes, highest level first, tile [0, size) left to right.
  for (let level = 53; level >= 0; level--) {
    if (Math.floor(frontier.size / 2 ** level) % 2 === 0) continue;
    const hex = frontier.nodes[i++]!;
    if (level < BLOCK_LEVEL) {
      const hash = new Uint8Array(HASH_SIZE);
      for (let b = 0; b < HASH_SIZE; b++) hash[b] = parseInt(hex.slice(2 * b, 2 * b + 2), 16);
      roots.push({ level, index: start / 2 ** level, hash });
    }
    start += 2 ** level;
  }
  return roots;
}
