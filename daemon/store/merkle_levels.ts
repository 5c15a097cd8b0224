/**
 * The Merkle tree's complete-subtree hashes on disk, so that a proof on a large log costs
 * O(log n) positioned reads instead of rehashing leaves — but only from level BLOCK_LEVEL (6) up:
 * one append-only file per level (`level-06.bin` holds the roots of blocks of 64 leaves,
 * `level-07.bin` their parents, …), 32 bytes a node, node i of level L at byte 32·i: one byte
 * an event in all (64 when every level was kept). Level L holds floor(size / 2^L) nodes and its
 * file exists iff that is at least one (level 6 always exists), so the files are a function of
 * the leaves alone: truncating and re-appending reproduces them byte for byte.
 *
 * Nodes below level 6 are derived on demand from the 64 leaves of their block
 * (`merkle_block.ts`). The writer keeps the last, incomplete block in memory (`merkle_tail.ts`;
 * after a restart the store hands it back from the log's tail); any other block comes from a
 * `BlockSource` (`merkle_log.ts` reads its records from the log). That is asynchronous, so
 * callers run their proof code under `read()`, which loads what it asks for and runs it again.
 * Files of levels below 6 (data format 2 wrote them) are removed when the writer opens the
 * directory: they are derived from the log, which the store checks against its signed checkpoint
 * on every open, and nothing reads them any more.
 *
 * Writes reach the page cache at every batch and the disk at `sync()`. After a crash `open()`
 * mends lengths — drops partial nodes and parents of lost blocks, rebuilds missing parents — but
 * cannot tell a wrong hash from a right one: the store truncates to its last signed checkpoint,
 * checks `rootFromNodes()` against the signed root and re-appends the leaves after it. A
 * read-only instance (another process) sees appends as they land.
 */

import { HASH_SIZE, type NodeReader } from "./merkle.ts";
import { BLOCK_LEAVES, BLOCK_LEVEL, levelFileName, type SubtreeRoot } from "./merkle_block.ts";
import { type BlockSource, DerivedBlocks } from "./merkle_derived.ts";
import { errorText, LevelFiles } from "./merkle_files.ts";
import { TailBlock, type TailState } from "./merkle_tail.ts";
import { sha256Into } from "./sha256.ts";

export { BLOCK_LEAVES, BLOCK_LEVEL } from "./merkle_block.ts";
export type { TailState } from "./merkle_tail.ts";
export { type BlockSource, NodesNeeded } from "./merkle_derived.ts";

/** Levels a tree of at most 2^53 leaves can have. */
const LEVELS = 54;
/** Parents rebuilt per read when `open()` repairs a level after a crash. */
const REBUILD_CHUNK = 1 << 15;
const LEVEL_FILE = /^level-(\d{2})\.bin$/;

/** Complete-subtree hashes of an append-only Merkle tree, one file per stored level. */
export class MerkleLevels implements NodeReader {
  readonly #dir: string;
  readonly #readOnly: boolean;
  readonly #derived: DerivedBlocks;
  readonly #files: LevelFiles;
  #size = 0;
  /** The last, incomplete block: size % BLOCK_LEAVES slots of it (writer only). */
  #tail = new TailBlock();
  /** Slot L: the last node of level L, waiting for its sibling, when level L's count is odd. */
  #pending = new Uint8Array(LEVELS * HASH_SIZE);
  #buffers = [new Uint8Array(0), new Uint8Array(0)];
  #pair = new Uint8Array(1 + 2 * HASH_SIZE);
  #closed = false;
  /** Why writing stopped: a failed write leaves levels out of step until `open()` mends them. */
  #broken: string | undefined;

  private constructor(dir: string, readOnly: boolean, source: BlockSource | undefined) {
    this.#dir = dir;
    this.#readOnly = readOnly;
    this.#files = new LevelFiles(dir, readOnly);
    this.#derived = new DerivedBlocks(source, dir);
    this.#pair[0] = 0x01;
  }

  /**
   * Opens (creating if needed) `dir` for appending, repairing what a crash left half-written.
   * The tree then holds the complete blocks the files hold; the caller appends the rest.
   * `source` serves nodes below the stored levels outside the last block.
   */
  static async open(dir: string, opts: { source?: BlockSource } = {}): Promise<MerkleLevels> {
    await Deno.mkdir(dir, { recursive: true });
    const levels = new MerkleLevels(dir, false, opts.source);
    try {
      levels.#recover();
    } catch (err) {
      levels.close();
      throw err;
    }
    return levels;
  }

  /**
   * Opens `dir` for reading what another process appends. Nodes of a signed checkpoint never
   * change, but a writer's `truncate()` may replace the files past it: reopen to follow a writer
   * that restarted. It has no size of its own: the log's end or a checkpoint gives it.
   */
  static async openReadOnly(
    dir: string,
    opts: { source?: BlockSource } = {},
  ): Promise<MerkleLevels> {
    try {
      if (!(await Deno.stat(dir)).isDirectory) throw new Error(`${dir} is not a directory`);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      throw new Deno.errors.NotFound(`Cannot open Merkle levels read-only: no ${dir}`);
    }
    return new MerkleLevels(dir, true, opts.source);
  }

  /** Leaves in the tree (the writer's; a read-only instance has none of its own). */
  get size(): number {
    this.#checkOpen();
    if (this.#readOnly) {
      throw new Error(`Merkle levels in ${this.#dir} are read-only: the log's end is the size`);
    }
    return this.#size;
  }

  /** The last, incomplete block (a copy): what another writer must `restoreTail()`. */
  tail(): TailState {
    this.#checkWritable();
    return this.#tail.state(this.#size % BLOCK_LEAVES);
  }

  /** Continues a tree of complete blocks with the incomplete block another writer had. */
  restoreTail(tail: TailState): void {
    if (tail.roots.length > 0) this.seedTail(tail.roots);
    this.appendLeaves(tail.leaves, tail.leaves.length / HASH_SIZE);
  }

  /**
   * Starts the next block with the subtree roots of leaves that are gone (retention deleted
   * them; `retained.json` keeps the roots): they must tile the block from its first leaf on.
   */
  seedTail(roots: readonly SubtreeRoot[]): void {
    this.#checkWritable();
    if (this.#size % BLOCK_LEAVES !== 0) {
      throw new RangeError(`Cannot seed a Merkle block in ${this.#dir} at leaf ${this.#size}`);
    }
    this.#size += this.#tail.seed(this.#size, roots);
  }

  /**
   * Appends the first `count` 32-byte leaf hashes of `hashes`, the roots of the blocks they
   * complete and every parent those complete, one write per level. Synchronous: the writes only
   * reach the page cache.
   */
  appendLeaves(hashes: Uint8Array, count: number): void {
    this.#checkWritable();
    const bad = !Number.isSafeInteger(count) || count < 0 || count * HASH_SIZE > hashes.length;
    if (bad || !Number.isSafeInteger(this.#size + count)) {
      throw new RangeError(
        `Cannot append ${count} leaves from ${hashes.length} bytes of hashes to ${this.#dir}`,
      );
    }
    if (count === 0) return;
    try {
      this.#appendLeaves(hashes, count);
    } catch (err) {
      this.#broken = errorText(err);
      throw err;
    }
  }

  /**
   * The root of leaves [index·2^level, (index+1)·2^level). RangeError if not there (yet);
   * NodesNeeded (a RangeError) for a derived node whose block `read()` would load.
   */
  node(level: number, index: number): Uint8Array {
    this.#checkOpen();
    if (!Number.isSafeInteger(level) || level < 0 || level >= LEVELS) {
      throw new RangeError(`No Merkle level ${level} in ${this.#dir}`);
    }
    const count = Math.floor(this.#size / 2 ** level);
    if (!Number.isSafeInteger(index) || index < 0 || (!this.#readOnly && index >= count)) {
      throw new RangeError(`Merkle level ${level} has no node ${index}: it holds ${count}`);
    }
    if (level < BLOCK_LEVEL) return this.#below(level, index);
    const file = this.#files.file(level);
    const out = new Uint8Array(HASH_SIZE);
    if (!file || this.#files.readAt(level, out, index * HASH_SIZE) < HASH_SIZE) {
      throw new RangeError(
        `Merkle level ${level} has no node ${index} (yet): ${levelFileName(level)} in ` +
          `${this.#dir} does not reach it`,
      );
    }
    return out;
  }

  /**
   * Runs `fn`, which reads nodes of this tree, and whenever it stops at a node whose block is
   * not loaded, loads the block from the source and runs it again (a proof needs at most a few).
   */
  read<T>(fn: () => T): Promise<T> {
    return this.#derived.read(fn);
  }

  /**
   * Drops every leaf at or beyond `size`. Within the last block any size will do; below it only
   * a block boundary, since the leaves of the block cut would have to come from the log.
   */
  truncate(size: number): void {
    this.#checkWritable();
    const inTail = Math.floor(size / BLOCK_LEAVES) === Math.floor(this.#size / BLOCK_LEAVES);
    if (
      !Number.isSafeInteger(size) || size < 0 || size > this.#size ||
      (!inTail && size % BLOCK_LEAVES !== 0) ||
      (size % BLOCK_LEAVES !== 0 && size % BLOCK_LEAVES < this.#tail.from)
    ) {
      throw new RangeError(
        `Cannot truncate Merkle levels of ${this.#size} leaves to ${size} (below the last ` +
          `block, only to a multiple of ${BLOCK_LEAVES})`,
      );
    }
    this.#tail.changed();
    if (size % BLOCK_LEAVES < this.#tail.from) this.#tail.clear();
    this.#derived.dropFrom(size);
    if (inTail) {
      this.#size = size;
      return;
    }
    try {
      this.#cut(size);
    } catch (err) {
      this.#broken = errorText(err);
      throw err;
    }
  }

  /** Makes every level durable (and the directory, when a level file came or went). */
  async sync(): Promise<void> {
    this.#checkWritable();
    await this.#files.sync();
  }

  /** Closes every level file; the instance is unusable afterwards. */
  close(): void {
    this.#files.close();
    this.#derived.clear();
    this.#closed = true;
  }

  #below(level: number, index: number): Uint8Array {
    const block = Math.floor(index / (BLOCK_LEAVES >> level));
    if (this.#readOnly || block !== Math.floor(this.#size / BLOCK_LEAVES)) {
      return this.#derived.node(level, index);
    }
    const got = this.#tail.node(block, this.#size % BLOCK_LEAVES, level, index);
    if (got) return got.slice();
    throw new RangeError(`Merkle level ${level} node ${index} covers deleted leaves`);
  }

  #appendLeaves(hashes: Uint8Array, count: number): void {
    const held = this.#size % BLOCK_LEAVES, total = held + count;
    const blocks = Math.floor(total / BLOCK_LEAVES);
    if (blocks > 0) {
      let leaves = hashes;
      if (held > 0) {
        leaves = new Uint8Array(blocks * BLOCK_LEAVES * HASH_SIZE);
        leaves.set(this.#tail.slots.subarray(0, held * HASH_SIZE));
        leaves.set(hashes.subarray(0, leaves.length - held * HASH_SIZE), held * HASH_SIZE);
      }
      const block = Math.floor(this.#size / BLOCK_LEAVES);
      this.#appendStored(this.#tail.roots(block, leaves, blocks), blocks);
      this.#tail.clear();
    }
    const rest = total % BLOCK_LEAVES;
    const from = blocks > 0 ? count - rest : 0;
    this.#tail.slots.set(
      hashes.subarray(from * HASH_SIZE, count * HASH_SIZE),
      (rest - (count - from)) * HASH_SIZE,
    );
    this.#size += count;
    this.#tail.changed();
  }

  /** Appends `count` level-BLOCK_LEVEL nodes (block roots) and every parent they complete. */
  #appendStored(roots: Uint8Array, count: number): void {
    const before = Math.floor(this.#size / BLOCK_LEAVES), after = before + count;
    let nodes = roots.subarray(0, count * HASH_SIZE);
    let first = before; // index of nodes[0] in its level
    for (let level = BLOCK_LEVEL, width = 1; nodes.length > 0; level++, width *= 2) {
      this.#files.write(level, nodes);
      // Parents of this level's new nodes: [floor(before / 2w), floor(after / 2w)).
      const from = Math.floor(before / (2 * width)), to = Math.floor(after / (2 * width));
      const parents = this.#buffer(level % 2, to - from);
      for (let p = from; p < to; p++) {
        this.#hashPair(level, nodes, 2 * p - first, parents, (p - from) * HASH_SIZE);
      }
      if (Math.floor(after / width) % 2 === 1) {
        this.#pending.set(nodes.subarray(nodes.length - HASH_SIZE), level * HASH_SIZE);
      }
      nodes = parents;
      first = from;
    }
  }

  // Makes the files agree with level BLOCK_LEVEL, the source of truth: a crash can leave a
  // partial node at any level's end, and parents written after their children may be missing or
  // extra. Files of derived levels (data format 2) go.
  #recover(): void {
    this.#files.changed = true; // level files may have been created or removed below
    const base = this.#files.file(BLOCK_LEVEL, true)!;
    const blocks = Math.floor(base.statSync().size / HASH_SIZE);
    for (const entry of Deno.readDirSync(this.#dir)) {
      const level = Number(LEVEL_FILE.exec(entry.name)?.[1] ?? NaN);
      if (level >= LEVELS) throw new Error(`Unexpected ${entry.name} in ${this.#dir}`);
      if (level < BLOCK_LEVEL) Deno.removeSync(`${this.#dir}/${entry.name}`);
      else if (level > BLOCK_LEVEL && Math.floor(blocks / 2 ** (level - BLOCK_LEVEL)) === 0) {
        this.#files.file(level); // for #cut
      }
    }
    for (let level = BLOCK_LEVEL + 1, width = 2; Math.floor(blocks / width) > 0; level++) {
      const have = Math.floor(this.#files.file(level, true)!.statSync().size / HASH_SIZE);
      const want = Math.floor(blocks / width);
      if (have < want) {
        this.#files.opened(level)!.truncateSync(have * HASH_SIZE);
        this.#rebuild(level, have, want);
      }
      width *= 2;
    }
    this.#size = blocks * BLOCK_LEAVES;
    this.#cut(this.#size);
  }

  #rebuild(level: number, from: number, to: number): void {
    for (let start = from; start < to; start += REBUILD_CHUNK) {
      const n = Math.min(REBUILD_CHUNK, to - start);
      const children = this.#buffer(0, 2 * n);
      if (this.#files.readAt(level - 1, children, 2 * start * HASH_SIZE) < children.length) {
        throw new Error(`Cannot rebuild Merkle level ${level} in ${this.#dir}: short read`);
      }
      const parents = this.#buffer(1, n);
      for (let i = 0; i < n; i++) {
        this.#hashPair(level - 1, children, 2 * i, parents, i * HASH_SIZE);
      }
      this.#files.write(level, parents);
    }
  }

  /** Cuts the stored levels to `size` leaves, a multiple of BLOCK_LEAVES. */
  #cut(size: number): void {
    for (let level = BLOCK_LEVEL; level < LEVELS; level++) {
      const keep = Math.floor(size / 2 ** level), f = this.#files.opened(level);
      if (keep > 0 || level === BLOCK_LEVEL) {
        f?.truncateSync(keep * HASH_SIZE);
        if (keep % 2 === 1) {
          this.#files.readAt(level, this.#pendingSlot(level), (keep - 1) * HASH_SIZE);
        }
      } else if (f) {
        this.#files.remove(level);
      }
    }
    this.#size = size;
  }

  /** Hashes children `i` and `i + 1` of `nodes` (index -1 is the pending node) into `out`. */
  #hashPair(level: number, nodes: Uint8Array, i: number, out: Uint8Array, outOff: number): void {
    const pair = this.#pair;
    // Byte loops: a subarray per copy would allocate in the hottest loop of the store.
    if (i < 0) {
      const pending = this.#pending, p = level * HASH_SIZE;
      for (let j = 0; j < HASH_SIZE; j++) pair[1 + j] = pending[p + j]!;
      for (let j = 0; j < HASH_SIZE; j++) pair[33 + j] = nodes[j]!;
    } else {
      const o = i * HASH_SIZE;
      for (let j = 0; j < 2 * HASH_SIZE; j++) pair[1 + j] = nodes[o + j]!;
    }
    sha256Into(pair, out, outOff);
  }

  #pendingSlot(level: number): Uint8Array {
    return this.#pending.subarray(level * HASH_SIZE, (level + 1) * HASH_SIZE);
  }

  /** Buffer `which` (0 or 1), grown to at least `nodes` nodes, viewed at exactly that size. */
  #buffer(which: number, nodes: number): Uint8Array {
    const need = nodes * HASH_SIZE;
    if (this.#buffers[which]!.length < need) {
      this.#buffers[which] = new Uint8Array(Math.max(need, 2 * this.#buffers[which]!.length));
    }
    return this.#buffers[which]!.subarray(0, need);
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error(`Merkle levels in ${this.#dir} are closed`);
  }

  #checkWritable(): void {
    this.#checkOpen();
    if (this.#readOnly) throw new Error(`Merkle levels in ${this.#dir} are open read-only`);
    if (this.#broken !== undefined) {
      throw new Error(`Merkle levels in ${this.#dir} need reopening after: ${this.#broken}`);
    }
  }
}
