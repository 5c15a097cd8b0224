/**
 * The hashing half of the write path. The store frames a group of events (length and body);
 * `hash()` fills in, frame by frame, the chain hash (after hashing each event's leaf) and the
 * CRC-32C. Leaf hashes wait until the store reports their group durable (`commit`) before they
 * join the Merkle node files; a failed write discards them (`reset`), so the node files only
 * ever hold what the log holds. Runs in the hash worker, or inline (see `hasher.ts`); a small
 * group may also be sealed on the store's thread and handed over as leaves (`sealed`).
 */

import { crc32c } from "./crc32c.ts";
import { CHAIN_SIZE, FRAME_EVENT, FRAME_OVERHEAD } from "./frame.ts";
import { rootFromNodes } from "./merkle.ts";
import { type BlockSource, MerkleLevels, type TailState } from "./merkle_levels.ts";
import { nativeHash } from "./native_hash.ts";
import { sha256Into } from "./sha256.ts";

/** The node files' directory in a data directory (`storePaths().merkle`). */
const MERKLE_DIR = "merkle";

/** Chain, pending leaves and Merkle node files of one store. */
export class HashState {
  #levels: MerkleLevels;
  #chain = new Uint8Array(32);
  #pending: { leaves: Uint8Array; count: number }[] = [];

  private constructor(levels: MerkleLevels, chain: Uint8Array) {
    this.#levels = levels;
    this.#chain.set(chain);
  }

  /**
   * Opens the node files of `dataDir` (in step with the log but for `tail`, its last incomplete
   * block, which no file holds) at chain head `chain`. Nodes of older
   * blocks below the stored levels, for a root of an older size, come from the log.
   */
  static async open(dataDir: string, chain: Uint8Array, tail: TailState): Promise<HashState> {
    let fromLog: BlockSource | undefined;
    // Imported when first needed: the worker starts without the seq reader's module graph.
    const source: BlockSource = async (block) => {
      fromLog ??= (await import("./merkle_log.ts")).logBlockSource(dataDir);
      return await fromLog(block);
    };
    const levels = await MerkleLevels.open(`${dataDir}/${MERKLE_DIR}`, { source });
    try {
      levels.restoreTail(tail);
    } catch (e) {
      levels.close();
      throw e;
    }
    return new HashState(levels, chain);
  }

  /**
   * Fills in chain hashes and CRCs of `count` frames starting at `frames[i]` of `buf`, keeps
   * the leaf hashes pending, and returns the chain head after the group.
   */
  hash(buf: Uint8Array, frames: Int32Array, count: number): Uint8Array {
    const leaves = new Uint8Array(count * 32);
    const n = sealFrames(buf, frames, count, this.#chain, leaves);
    this.#pending.push({ leaves, count: n });
    return this.#chain.slice();
  }

  /**
   * A group sealed elsewhere (`sealFrames` on the store's thread): its `count` leaves wait for
   * `commit` like a hashed group's, and `chain`, the head after it, is where the next starts.
   */
  sealed(leaves: Uint8Array, count: number, chain: Uint8Array): void {
    this.#pending.push({ leaves, count });
    this.#chain.set(chain);
  }

  /** The oldest hashed group is durable: its leaves join the Merkle tree. */
  commit(): void {
    const done = this.#pending.shift();
    if (done && done.count > 0) this.#levels.appendLeaves(done.leaves, done.count);
  }

  /** Drops every hashed group not yet committed and continues from `chain`. */
  reset(chain: Uint8Array): void {
    this.#pending.length = 0;
    this.#chain.set(chain);
  }

  /** Merkle root of the first `size` committed leaves; `sync` fsyncs the node files first. */
  async root(size: number, sync: boolean): Promise<Uint8Array> {
    if (sync) await this.#levels.sync();
    return await this.#levels.read(() => rootFromNodes(size, this.#levels));
  }

  /** Closes the node files. */
  close(): void {
    this.#levels.close();
  }
}

const link = new Uint8Array(64);

/**
 * Fills in chain hashes and CRCs of `count` frames of `buf` from `chain` (in/out), writing
 * each event's leaf hash to `leaves`; returns the number of leaves. Native when loaded.
 */
export function sealFrames(
  buf: Uint8Array,
  frames: Int32Array,
  count: number,
  chain: Uint8Array,
  leaves: Uint8Array,
): number {
  return nativeHash
    ? nativeHash.sealFrames(buf, frames, count, chain, leaves)
    : sealFramesJs(buf, frames, count, chain, leaves);
}

/**
 * What native `sealFrames` does, in TypeScript: for each frame, hash the event's leaf, advance
 * `chain` (in/out), and write the chain and CRC into the frame. Returns the number of leaves.
 */
export function sealFramesJs(
  buf: Uint8Array,
  frames: Int32Array,
  count: number,
  chain: Uint8Array,
  leaves: Uint8Array,
): number {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let n = 0;
  for (let i = 0; i < count; i++) {
    const off = frames[i]!;
    const len = dv.getUint32(off);
    const p = off + FRAME_OVERHEAD;
    if (buf[p + CHAIN_SIZE] === FRAME_EVENT) {
      // Leaf hash = SHA-256(0x00 ‖ json), in place; chain = SHA-256(chain ‖ leaf).
      link.set(chain, 0);
      sha256Into(buf.subarray(p + CHAIN_SIZE, p + len), link, 32);
      leaves.set(link.subarray(32), n * 32);
      sha256Into(link, chain, 0);
      n++;
    }
    buf.set(chain, p);
    dv.setUint32(off + 4, crc32c(buf, p, p + len));
  }
  return n;
}
