/**
 * The writer's last, incomplete block of the Merkle tree (`merkle_levels.ts` stores only whole
 * blocks): its leaf hashes in memory, and, when retention deleted its first leaves, the subtree
 * roots that stand in for them (`retained.json` keeps them). It answers for the nodes below the
 * stored levels inside the block and gives the block's root once the block is whole. Pure: no I/O.
 */

import { HASH_SIZE, nodeHash } from "./merkle.ts";
import {
  BLOCK_LEAVES,
  BLOCK_LEVEL,
  type BlockNodes,
  blockRoots,
  buildBlock,
  type SubtreeRoot,
} from "./merkle_block.ts";

/** A writer's last, incomplete block: roots of its deleted leaves, then its leaf hashes. */
export interface TailState {
  roots: SubtreeRoot[];
  leaves: Uint8Array;
}

/** The leaves (slots [from, held)) and seed roots (slots [0, from)) of the block being filled. */
export class TailBlock {
  /** Leaf hashes by slot in the block. */
  readonly slots = new Uint8Array(BLOCK_LEAVES * HASH_SIZE);
  #roots: SubtreeRoot[] = [];
  #from = 0;
  #nodes: BlockNodes | null = null;

  /** Slots stood in for by seed roots. */
  get from(): number {
    return this.#from;
  }

  /** A copy of the block when `held` slots are filled, for another writer. */
  state(held: number): TailState {
    const roots = this.#roots.map((r) => ({ ...r, hash: r.hash.slice() }));
    return { roots, leaves: this.slots.slice(this.#from * HASH_SIZE, held * HASH_SIZE) };
  }

  /**
   * Starts the block from leaf `start` (a block boundary) with `roots`, which must tile its
   * first leaves; returns how many leaves they cover.
   */
  seed(start: number, roots: readonly SubtreeRoot[]): number {
    let at = start;
    for (const r of roots) {
      const width = 2 ** r.level;
      if (r.level >= BLOCK_LEVEL || r.index * width !== at || r.hash.length !== HASH_SIZE) {
        throw new RangeError(
          `Cannot start Merkle block ${start / BLOCK_LEAVES} with subtree ${r.level}/${r.index}: ` +
            `the roots must tile it from leaf ${start}`,
        );
      }
      at += width;
    }
    if (start % BLOCK_LEAVES !== 0 || at - start >= BLOCK_LEAVES) {
      throw new RangeError(`Cannot seed a Merkle block at leaf ${start} up to leaf ${at}`);
    }
    this.#roots = roots.map((r) => ({ ...r, hash: r.hash.slice() }));
    this.#from = at - start;
    this.#nodes = null;
    return this.#from;
  }

  /** The slots changed: nodes are derived again when next asked for. */
  changed(): void {
    this.#nodes = null;
  }

  /** The block was completed or cut below its seed: it starts empty. */
  clear(): void {
    this.#roots = [];
    this.#from = 0;
    this.#nodes = null;
  }

  /** Node `index` of `level` < BLOCK_LEVEL in block `block` with `held` slots, or null. */
  node(block: number, held: number, level: number, index: number): Uint8Array | null {
    if (!this.#nodes) {
      const known = new Uint8Array(BLOCK_LEAVES).fill(1, this.#from, held);
      this.#nodes = buildBlock(block, this.slots, known, this.#roots);
    }
    return this.#nodes.get(level, index);
  }

  /** The level-BLOCK_LEVEL roots of `blocks` whole blocks in `leaves`, the first this one. */
  roots(block: number, leaves: Uint8Array, blocks: number): Uint8Array {
    const roots = blockRoots(leaves, blocks);
    if (this.#roots.length === 0) return roots;
    const known = new Uint8Array(BLOCK_LEAVES).fill(1, this.#from);
    const nodes = buildBlock(block, leaves, known, this.#roots);
    const top = BLOCK_LEVEL - 1;
    roots.set(nodeHash(nodes.get(top, 2 * block)!, nodes.get(top, 2 * block + 1)!));
    return roots;
  }
}
