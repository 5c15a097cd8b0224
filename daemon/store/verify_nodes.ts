/**
 * Checking the Merkle node files (`merkle/level-NN.bin`) for `verifyStore`: `prove` answers from
 * them, so a node that is wrong there makes proofs fail (or, worse, prove against a tree that is
 * not the log's). Level 0 must hold exactly the leaf hashes verify derives from the records, fed
 * in run by run ({@link LeafFileCheck}); every node of level L+1 must be the hash of its two
 * children in level L ({@link checkUpperLevels}), which with level 0 right makes every file right.
 * Nodes past the verified log are left alone: a writer may have appended them since.
 */

import { readAt } from "./file_read.ts";
import { HASH_SIZE } from "./merkle.ts";
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

/** The file name of a level. */
export function levelFileName(level: number): string {
  return `level-${String(level).padStart(2, "0")}.bin`;
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
 * Compares level 0 with the leaves verify derives, in seq order. A file shorter than the log is
 * not a problem (node files reach the disk at checkpoints; the writer rebuilds their tail), but
 * then only what it holds is compared.
 */
export class LeafFileCheck {
  #file: Deno.FsFile | null | undefined;
  readonly #dir: string;
  #problem: NodeProblem | null = null;

  constructor(merkleDir: string) {
    this.#dir = merkleDir;
  }

  /** The first wrong leaf found so far. */
  get problem(): NodeProblem | null {
    return this.#problem;
  }

  /** Checks `leaves` (32 bytes each), the hashes of the events from `firstSeq` on. */
  async feed(firstSeq: number, leaves: Uint8Array): Promise<void> {
    if (this.#problem !== null || leaves.length === 0) return;
    if (this.#file === undefined) this.#file = await openLevel(this.#dir, 0);
    if (this.#file === null) return;
    const count = leaves.length / HASH_SIZE;
    const stored = await readNodes(this.#file, firstSeq, count);
    for (let i = 0; i < stored.length; i += HASH_SIZE) {
      for (let b = 0; b < HASH_SIZE; b++) {
        if (stored[i + b] !== leaves[i + b]) {
          this.#problem = {
            level: 0,
            index: firstSeq + i / HASH_SIZE,
            reason: "leaf hash differs from the event's",
          };
          return;
        }
      }
    }
  }

  close(): void {
    this.#file?.close();
  }
}

/**
 * Checks that each node of levels 1 and up covering only the first `size` leaves is the hash of
 * its two children as the files hold them. Returns the first wrong node, or null.
 */
export async function checkUpperLevels(
  merkleDir: string,
  size: number,
): Promise<NodeProblem | null> {
  const pair = new Uint8Array(1 + 2 * HASH_SIZE);
  pair[0] = 0x01;
  for (let level = 0; size >> (level + 1) > 0; level++) {
    const lower = await openLevel(merkleDir, level);
    const upper = await openLevel(merkleDir, level + 1);
    try {
      if (lower === null || upper === null) return null; // not written yet: nothing to check
      const parents = size >> (level + 1);
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
