/**
 * RFC 9162 (Certificate Transparency v2) §2.1 Merkle trees over the log: leaf hash
 * SHA-256(0x00 ‖ data), node hash SHA-256(0x01 ‖ left ‖ right), the empty tree's root
 * SHA-256(""), 0-based leaf indices. `MerkleFrontier` keeps only the roots of the complete
 * subtrees of an append-only tree — enough for the root at every checkpoint and for re-checking
 * a whole log while streaming it. Proofs are assembled from complete-subtree hashes read through
 * a `NodeReader` (merkle_levels.ts stores them), O(log n) reads each, and are verified exactly as
 * §2.1.3.2 and §2.1.4.2 prescribe, so any RFC 9162 client can check what Vigil publishes.
 * Pure: no I/O.
 */

import { sha256, sha256Into } from "./sha256.ts";

/** Bytes in every leaf, node and root hash. */
export const HASH_SIZE = 32;

/** Levels a tree of at most 2^53 leaves (`Number.MAX_SAFE_INTEGER`) can have. */
const LEVELS = 54;
const EMPTY_ROOT = sha256(new Uint8Array(0));
// Hashing is the hot path (~1 µs a call): reuse one input buffer rather than allocate per node.
const nodeInput = new Uint8Array(1 + 2 * HASH_SIZE);
nodeInput[0] = 0x01;
let leafInput = new Uint8Array(1024);

/** Hashes leaf `data` (0x00 ‖ data) into `out[outOff .. outOff + 32)`. */
export function leafHashInto(data: Uint8Array, out: Uint8Array, outOff: number): void {
  if (leafInput.length < data.length + 1) {
    leafInput = new Uint8Array(Math.max(data.length + 1, leafInput.length * 2));
  }
  leafInput[0] = 0x00;
  leafInput.set(data, 1);
  sha256Into(leafInput.subarray(0, data.length + 1), out, outOff);
}

/** The leaf hash of `data`: SHA-256(0x00 ‖ data). */
export function leafHash(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(HASH_SIZE);
  leafHashInto(data, out, 0);
  return out;
}

/** Hashes SHA-256(0x01 ‖ left ‖ right) into `out[outOff ..]`; `out` may alias either input. */
export function nodeHashInto(
  left: Uint8Array,
  right: Uint8Array,
  out: Uint8Array,
  outOff: number,
): void {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    throw new RangeError(
      `Cannot hash a Merkle node: children are ${left.length} and ${right.length} bytes, not 32`,
    );
  }
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  sha256Into(nodeInput, out, outOff);
}

/** The node hash SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const out = new Uint8Array(HASH_SIZE);
  nodeHashInto(left, right, out, 0);
  return out;
}

/**
 * Complete-subtree hashes of a tree: `node(level, i)` is the root of leaves
 * [i·2^level, (i+1)·2^level), so level 0 holds the leaf hashes. The caller copies what it keeps,
 * so a reader may return the same buffer every call.
 */
export interface NodeReader {
  node(level: number, index: number): Uint8Array;
}

/** The serialised form of a `MerkleFrontier`: subtree roots left to right, as hex. */
export interface MerkleFrontierJSON {
  size: number;
  nodes: string[];
}

/**
 * The compact range [0, size) of an append-only tree: one root per set bit of `size`. Appending
 * costs one node hash per subtree it completes (one per leaf, amortised) and allocates nothing.
 */
export class MerkleFrontier {
  #size = 0;
  /** Slot L holds the root of the complete 2^L-leaf subtree iff bit L of size is set. */
  #slots = new Uint8Array(LEVELS * HASH_SIZE);
  #views = Array.from({ length: LEVELS }, (_, l) => this.#slots.subarray(l * 32, l * 32 + 32));
  #carry = new Uint8Array(HASH_SIZE);

  /** The frontier of leaves [0, size) of the tree `reader` holds nodes of. */
  static fromNodes(size: number, reader: NodeReader): MerkleFrontier {
    checkSize(size, "size");
    const f = new MerkleFrontier();
    let end = size;
    forEachBit(size, (level, width) => {
      end -= width;
      f.#views[level]!.set(reader.node(level, end / width));
    });
    f.#size = size;
    return f;
  }

  /** Restores a frontier from `toJSON()` output; throws SyntaxError on malformed input. */
  static fromJSON(value: unknown): MerkleFrontier {
    const v = value as Partial<MerkleFrontierJSON> | null;
    const size = v?.size, nodes = v?.nodes;
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
      throw new SyntaxError(`Cannot restore a Merkle frontier: bad size ${String(size)}`);
    }
    const levels: number[] = [];
    forEachBit(size, (level) => levels.unshift(level));
    if (!Array.isArray(nodes) || nodes.length !== levels.length) {
      throw new SyntaxError(
        `Cannot restore a Merkle frontier of size ${size}: want ${levels.length} node hashes`,
      );
    }
    const f = new MerkleFrontier();
    levels.forEach((level, i) => f.#views[level]!.set(fromHex(nodes[i], size)));
    f.#size = size;
    return f;
  }

  /** Leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /** Appends one 32-byte leaf hash. */
  append(leafHash: Uint8Array): void {
    if (leafHash.length !== HASH_SIZE) {
      throw new RangeError(`Cannot append a ${leafHash.length}-byte leaf hash: want 32 bytes`);
    }
    if (this.#size >= Number.MAX_SAFE_INTEGER) {
      throw new RangeError(`Cannot append to a Merkle tree of ${this.#size} leaves: too large`);
    }
    const carry = this.#carry;
    carry.set(leafHash);
    let level = 0;
    // Each trailing one bit of size is a subtree of the new leaf's width: merge and carry up.
    for (let n = this.#size; n % 2 === 1; n = (n - 1) / 2) {
      nodeHashInto(this.#views[level++]!, carry, carry, 0);
    }
    this.#views[level]!.set(carry);
    this.#size++;
  }

  /**
   * Appends a complete subtree of 2^level leaves by its root, as if its leaves were appended
   * one by one; the current size must be a multiple of 2^level.
   */
  appendSubtree(level: number, root: Uint8Array): void {
    const width = 2 ** level;
    if (!Number.isInteger(level) || level < 0 || level >= LEVELS || this.#size % width !== 0) {
      throw new RangeError(`Cannot append a subtree of 2^${level} leaves at size ${this.#size}`);
    }
    if (root.length !== HASH_SIZE) {
      throw new RangeError(`Cannot append a ${root.length}-byte subtree root: want 32 bytes`);
    }
    const carry = this.#carry;
    carry.set(root);
    let l = level;
    for (let n = this.#size / width; n % 2 === 1; n = (n - 1) / 2) {
      nodeHashInto(this.#views[l++]!, carry, carry, 0);
    }
    this.#views[l]!.set(carry);
    this.#size += width;
  }

  /** MTH of every leaf appended so far: the subtree roots merged right to left. */
  root(): Uint8Array {
    return rootFromNodes(this.#size, { node: (level) => this.#views[level]! });
  }

  /** An independent copy. */
  clone(): MerkleFrontier {
    const f = new MerkleFrontier();
    f.#slots.set(this.#slots);
    f.#size = this.#size;
    return f;
  }

  /** Subtree roots left to right (highest level first), as lower-case hex. */
  toJSON(): MerkleFrontierJSON {
    const nodes: string[] = [];
    forEachBit(this.#size, (level) => nodes.unshift(toHex(this.#views[level]!)));
    return { size: this.#size, nodes };
  }
}

/** MTH of leaves [0, size) from complete-subtree hashes; the empty tree's root for size 0. */
export function rootFromNodes(size: number, reader: NodeReader): Uint8Array {
  checkSize(size, "size");
  return size === 0 ? EMPTY_ROOT.slice() : subtreeHash(0, size, reader);
}

/** PATH(index, D[size]) of RFC 9162 §2.1.3.1: sibling hashes from the leaf up. */
export function inclusionProof(index: number, size: number, reader: NodeReader): Uint8Array[] {
  checkSize(size, "size");
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw new RangeError(`Cannot prove leaf ${index}: outside a tree of size ${size}`);
  }
  const proof: Uint8Array[] = [];
  // The RFC's recursion over leaves [lo, hi), in absolute indices so that `reader` serves it.
  function path(lo: number, hi: number): void {
    if (hi - lo === 1) return;
    const k = lo + largestPowerOfTwoBelow(hi - lo);
    if (index < k) path(lo, k);
    else path(k, hi);
    proof.push(index < k ? subtreeHash(k, hi, reader) : subtreeHash(lo, k, reader));
  }
  path(0, size);
  return proof;
}

/** PROOF(m, D[n]) of RFC 9162 §2.1.4.1; empty when m is 0 or n, as verification expects. */
export function consistencyProof(m: number, n: number, reader: NodeReader): Uint8Array[] {
  checkSize(n, "n");
  if (!Number.isSafeInteger(m) || m < 0 || m > n) {
    throw new RangeError(`Cannot prove consistency from size ${m} to size ${n}`);
  }
  const proof: Uint8Array[] = [];
  function subproof(lo: number, hi: number, whole: boolean): void {
    if (m === hi) {
      if (!whole) proof.push(subtreeHash(lo, hi, reader));
      return;
    }
    const k = lo + largestPowerOfTwoBelow(hi - lo);
    if (m <= k) subproof(lo, k, whole);
    else subproof(k, hi, false);
    proof.push(m <= k ? subtreeHash(k, hi, reader) : subtreeHash(lo, k, reader));
  }
  if (m > 0 && m < n) subproof(0, n, true);
  return proof;
}

/** Checks an inclusion proof by RFC 9162 §2.1.3.2; false for an index at or beyond `size`. */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  checkSize(size, "size");
  checkSize(index, "index");
  if (index >= size || leafHash.length !== HASH_SIZE || !allHashes(proof)) return false;
  let fn = index, sn = size - 1;
  const r = leafHash.slice();
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      nodeHashInto(p, r, r, 0);
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      nodeHashInto(r, p, r, 0);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && equal(r, root);
}

/**
 * Checks that the tree of size n with root `rootN` extends the tree of size m with root `rootM`:
 * RFC 9162 §2.1.4.2 for 0 < m < n; for m = n the proof must be empty and the roots equal, for
 * m = 0 the proof must be empty and `rootM` the empty tree's root; m > n is never consistent.
 */
export function verifyConsistency(
  m: number,
  n: number,
  rootM: Uint8Array,
  rootN: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  checkSize(m, "m");
  checkSize(n, "n");
  if (m > n || !allHashes(proof)) return false;
  if (m === n) return proof.length === 0 && equal(rootM, rootN);
  if (m === 0) return proof.length === 0 && equal(rootM, EMPTY_ROOT);
  if (proof.length === 0) return false;
  const steps = isPowerOfTwo(m) ? [rootM, ...proof] : proof;
  let fn = m - 1, sn = n - 1;
  while (fn % 2 === 1) [fn, sn] = [half(fn), half(sn)];
  const fr = steps[0]!.slice(), sr = steps[0]!.slice();
  for (const c of steps.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      nodeHashInto(c, fr, fr, 0);
      nodeHashInto(c, sr, sr, 0);
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      nodeHashInto(sr, c, sr, 0);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && equal(fr, rootM) && equal(sr, rootN);
}

/**
 * MTH of leaves [lo, hi). Every range the RFC's recursion visits starts at a multiple of a power
 * of two at least its length, so its tree is the complete subtrees of the binary decomposition of
 * its length, largest leftmost, merged right to left: O(log n) reads, smallest (rightmost) first.
 */
function subtreeHash(lo: number, hi: number, reader: NodeReader): Uint8Array {
  let acc: Uint8Array | null = null;
  let end = hi;
  forEachBit(hi - lo, (level, width) => {
    end -= width;
    if (end % width !== 0) throw new RangeError(`Merkle range [${lo}, ${hi}) is not aligned`);
    const node = reader.node(level, end / width);
    if (acc) nodeHashInto(node, acc, acc, 0);
    else acc = node.slice();
  });
  return acc!;
}

/** Calls `fn(level, 2^level)` for each set bit of `n`, lowest first. */
function forEachBit(n: number, fn: (level: number, width: number) => void): void {
  for (let level = 0, width = 1; n > 0; level++, width *= 2, n = Math.floor(n / 2)) {
    if (n % 2 === 1) fn(level, width);
  }
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  return n === 1 || n === 2 * largestPowerOfTwoBelow(n);
}

function half(n: number): number {
  return Math.floor(n / 2);
}

function checkSize(n: number, name: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`Merkle tree ${name} must be a non-negative safe integer, not ${n}`);
  }
}

function allHashes(proof: readonly Uint8Array[]): boolean {
  return proof.every((p) => p.length === HASH_SIZE);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function fromHex(s: unknown, size: number): Uint8Array {
  if (typeof s !== "string" || !/^[0-9a-f]{64}$/.test(s)) {
    throw new SyntaxError(`Cannot restore a Merkle frontier of size ${size}: bad node hash`);
  }
  const out = new Uint8Array(HASH_SIZE);
  for (let i = 0; i < HASH_SIZE; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
