/**
 * Checking the Merkle node files (`merkle/level-NN.bin`) for `verifyStore`: `prove` answers from
 * them, so a node that is wrong there makes proofs fail (or, worse, prove against a tree that is
 * not the log's). The lowest stored level (BLOCK_LEVEL: blocks of 64 leaves) must hold exactly
 * the roots of the leaf hashes verify derives from the records, fed in run by run
 * ({@link LeafFileCheck}); every node of level L+1 must be the hash of its two children in level L
 * ({@link checkUpperLevels}), which with the lowest level right makes every file right. Files of
 * levels below it (data format 2) are not read by anything and not checked.
 * Nodes past the verified log are left alone: a writer may have appended them since.
 */

import { readAt } from "./file_read.ts";
import { HASH_SIZE } from "./merkle.ts";
import { BLOCK_LEAVES, BLOCK_LEVEL, blockRoots, levelFileName } from "./merkle_block.ts";
import { nativeHash } from "./native_hash.ts";
import { sha256Into } from "./sha256.ts";

/** Nodes read per call. */
const CHUNK_NODES = 1 << 16;

/** A wrong node: its level, index and what is wrong. */
export interface NodeProblem {
  level: number;
  index: number;
  reason: string;
}

function levelPath(dir: string, level: number): string {
  return `${dir}/${levelFileName(level)}`;
}

async function openLevel(dir: string, level: number): Promise<Deno.FsFile | null> {
  try {
    return await Deno.open(levelPath(dir, level), { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

async function readNodes(file: Deno.FsFile, index: number, count: number): Promise<Uint8Array> {
  const got = await readAt(file, index * HASH_SIZE, count * HASH_SIZE);
  return got.subarray(0, got.length - (got.length % HASH_SIZE));
}

/**
 * Compares the stored roots of blocks (level BLOCK_LEVEL) with the roots of the leaves verify
 * derives, fed in seq order. A file shorter than the log is not a problem (node files reach the
 * disk at checkpoints; the writer rebuilds their tail), but then only what it holds is compared.
 * A block whose first leaves are not fed (retention deleted them) is skipped.
 */
export class LeafFileCheck {
  #file: Deno.FsFile | null | undefined;
  readonly #dir: string;
  #problem: NodeProblem | null = null;
  /** The leaves of the block being filled, and the seq after the last one fed. */
  #block = new Uint8Array(BLOCK_LEAVES * HASH_SIZE);
  #held = 0;
  #next = -1;

  constructor(merkleDir: string) {
    this.#dir = merkleDir;
  }

  /** The first wrong node found so far. */
  get problem(): NodeProblem | null {
    return this.#problem;
  }

  /** Checks `leaves` (32 bytes each), the hashes of the events from `firstSeq` on. */
  async feed(firstSeq: number, leaves: Uint8Array): Promise<void> {
    if (this.#problem !== null || leaves.length === 0) return;
    const count = leaves.length / HASH_SIZE;
    let skip = 0;
    if (firstSeq !== this.#next || this.#held === 0) {
      // Start (again) at the first block boundary: a block's root needs all its leaves.
      this.#held = 0;
      skip = (BLOCK_LEAVES - (firstSeq % BLOCK_LEAVES)) % BLOCK_LEAVES;
    }
    this.#next = firstSeq + count;
    if (skip >= count) return;
    let at = firstSeq + skip, from = skip;
    // The block carried over from the last feed, completed first.
    if (this.#held > 0) {
      const take = Math.min(count, BLOCK_LEAVES - this.#held);
      this.#block.set(leaves.subarray(0, take * HASH_SIZE), this.#held * HASH_SIZE);
      this.#held += take;
      from = take;
      at = firstSeq + take;
      if (this.#held < BLOCK_LEAVES) return;
      this.#held = 0;
      if (!await this.#check(at / BLOCK_LEAVES - 1, blockRoots(this.#block, 1))) return;
    }
    const blocks = Math.floor((count - from) / BLOCK_LEAVES);
    if (blocks > 0) {
      const roots = blockRoots(leaves.subarray(from * HASH_SIZE), blocks);
      if (!await this.#check(at / BLOCK_LEAVES, roots)) return;
    }
    const rest = count - from - blocks * BLOCK_LEAVES;
    this.#block.set(leaves.subarray((count - rest) * HASH_SIZE));
    this.#held = rest;
  }

  /** Compares `roots`, the roots of blocks from `first` on, with the file; false on a problem. */
  async #check(first: number, roots: Uint8Array): Promise<boolean> {
    if (this.#file === undefined) this.#file = await openLevel(this.#dir, BLOCK_LEVEL);
    if (this.#file === null) return true;
    const stored = await readNodes(this.#file, first, roots.length / HASH_SIZE);
    for (let i = 0; i < stored.length; i++) {
      if (stored[i] !== roots[i]) {
        const index = first + Math.floor(i / HASH_SIZE);
        this.#problem = {
          level: BLOCK_LEVEL,
          index,
          reason: `not the root of the leaf hashes of events ${index * BLOCK_LEAVES} to ` +
            `${(index + 1) * BLOCK_LEAVES - 1}`,
        };
        return false;
      }
    }
    return true;
  }

  close(): void {
    this.#file?.close();
  }
}

/**
 * Checks that each node above level BLOCK_LEVEL covering only the first `size` leaves is the hash of
 * its two children as the files hold them. Returns the first wrong node, or null.
 */
export async function checkUpperLevels(
  merkleDir: string,
  size: number,
): Promise<NodeProblem | null> {
  const pair = new Uint8Array(1 + 2 * HASH_SIZE);
  pair[0] = 0x01;
  for (let level = BLOCK_LEVEL; Math.floor(size / 2 ** (level + 1)) > 0; level++) {
    const lower = await openLevel(merkleDir, level);
    const upper = await openLevel(merkleDir, level + 1);
    try {
      if (lower === null || upper === null) return null; // not written yet: nothing to check
      const parents = Math.floor(size / 2 ** (level + 1));
      for (let i = 0; i < parents; i += CHUNK_NODES) {
        const n = Math.min(CHUNK_NODES, parents - i);
        const children = await readNodes(lower, 2 * i, 2 * n);
        const stored = await readNodes(upper, i, n);
        const have = Math.min(stored.length / HASH_SIZE, children.length / (2 * HASH_SIZE));
        const want = new Uint8Array(have * HASH_SIZE);
        if (nativeHash) nativeHash.nodePairs(children, have, want);
        else {
          for (let k = 0; k < have; k++) {
            pair.set(children.subarray(2 * k * HASH_SIZE, (2 * k + 2) * HASH_SIZE), 1);
            sha256Into(pair, want, k * HASH_SIZE);
          }
        }
        for (let k = 0; k < have * HASH_SIZE; k++) {
          if (want[k] !== stored[k]) {
            return {
              level: level + 1,
              index: i + Math.floor(k / HASH_SIZE),
              reason: "node is not the hash of its two children",
            };
          }
        }
        if (have < n) break; // the files end here: written at the next checkpoint
      }
    } finally {
      lower?.close();
      upper?.close();
    }
  }
  return null;
}
