/**
 * Nodes below the stored Merkle levels for blocks other than the writer's last one: derived from
 * a `BlockSource` (the log, `merkle_log.ts`), a few blocks cached. The source is asynchronous
 * and proof code is not, so a node whose block is not loaded throws `NodesNeeded`, and `read()`
 * runs the proof code again after loading that block: a proof needs at most a few blocks.
 */

import { BLOCK_LEAVES, type BlockNodes } from "./merkle_block.ts";

/** Derived blocks kept: a proof touches at most three (its leaf's, and both tree sizes'). */
const CACHED_BLOCKS = 8;

/** The derivable nodes of one block, from wherever its leaves are kept (the log). */
export type BlockSource = (block: number) => Promise<BlockNodes>;

/** A derived node whose block is not loaded: `read()` loads it and retries. */
export class NodesNeeded extends RangeError {
  override name = "NodesNeeded";
  constructor(readonly owner: DerivedBlocks, readonly block: number, message: string) {
    super(message);
  }
}

/** Blocks derived from a source, least recently used first. */
export class DerivedBlocks {
  readonly #source: BlockSource | undefined;
  readonly #where: string;
  #blocks = new Map<number, BlockNodes>();

  /** `where` names the tree in errors. */
  constructor(source: BlockSource | undefined, where: string) {
    this.#source = source;
    this.#where = where;
  }

  /** Node `index` of `level` (below the stored levels); NodesNeeded when not loaded. */
  node(level: number, index: number): Uint8Array {
    const block = Math.floor(index / (BLOCK_LEAVES >> level));
    const got = this.#blocks.get(block)?.get(level, index);
    if (got) return got.slice();
    const what = `Merkle level ${level} node ${index} (leaves ${block * BLOCK_LEAVES}..` +
      `${(block + 1) * BLOCK_LEAVES - 1}) is derived, not stored`;
    if (!this.#source) throw new RangeError(`${what}, and ${this.#where} has no source of leaves`);
    throw new NodesNeeded(this, block, what);
  }

  /** Runs `fn`, loading each block it stops at and running it again. */
  async read<T>(fn: () => T): Promise<T> {
    const loaded = new Set<number>();
    for (;;) {
      try {
        return fn();
      } catch (err) {
        if (!(err instanceof NodesNeeded) || err.owner !== this) throw err;
        if (loaded.has(err.block)) {
          throw new RangeError(`${err.message}: the log does not hold the leaves it needs`);
        }
        loaded.add(err.block);
        const got = await this.#source!(err.block);
        this.#blocks.delete(err.block);
        this.#blocks.set(err.block, got);
        for (const b of this.#blocks.keys()) {
          if (this.#blocks.size <= CACHED_BLOCKS) break;
          this.#blocks.delete(b);
        }
      }
    }
  }

  /** Forgets every block holding a leaf at or beyond `size`. */
  dropFrom(size: number): void {
    for (const b of [...this.#blocks.keys()]) {
      if ((b + 1) * BLOCK_LEAVES > size) this.#blocks.delete(b);
    }
  }

  clear(): void {
    this.#blocks.clear();
  }
}
