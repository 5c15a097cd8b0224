/**
 * Isolation Forest (Liu, Ting and Zhou, 2008): random trees that split on a random feature at a
 * random value; an unusual point is isolated in few splits. The score is 2^(−E[h(x)] / c(ψ)):
 * near 1 for clear outliers, below 0.5 for ordinary points. Trees are grown with a seeded
 * `Random`, so the same data and seed give the same forest.
 *
 * @example
 * const forest = IsolationForest.fit(rows, { random: seededRandom(1) });
 * forest.score([0.1, 9.5]); // 0.8: isolated quickly
 */

import { type Random, randomInt } from "./prng.ts";

const EULER = 0.5772156649015329;

/** Average path length of an unsuccessful search in a binary search tree of n points: c(n). */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER) - (2 * (n - 1)) / n;
}

/** One tree as flat arrays: a node is a split (feature ≥ 0) or a leaf holding `size` points. */
interface Tree {
  feature: Int32Array;
  split: Float64Array;
  left: Int32Array;
  right: Int32Array;
  size: Int32Array;
}

/** Options of `IsolationForest.fit`. */
export interface ForestOptions {
  /** Trees; the reference setting is 100. */
  trees?: number;
  /** Points per tree (ψ); the reference setting is 256. */
  subsample?: number;
  random: Random;
}

/** A fitted forest. */
export class IsolationForest {
  readonly #trees: Tree[];
  readonly #psi: number;
  readonly #cPsi: number;

  private constructor(trees: Tree[], psi: number) {
    this.#trees = trees;
    this.#psi = psi;
    this.#cPsi = averagePathLength(psi);
  }

  /** Subsample size the trees were grown on. */
  get subsample(): number {
    return this.#psi;
  }

  /** Grows a forest on `data` (rows of equal length). */
  static fit(data: readonly number[][], opts: ForestOptions): IsolationForest {
    if (data.length === 0) throw new RangeError("Cannot fit an Isolation Forest on no data");
    const count = opts.trees ?? 100;
    const psi = Math.min(opts.subsample ?? 256, data.length);
    const limit = Math.ceil(Math.log2(Math.max(2, psi)));
    const trees: Tree[] = [];
    const idx = new Int32Array(data.length);
    for (let t = 0; t < count; t++) {
      // Partial Fisher–Yates: the first psi entries become a uniform sample without replacement.
      for (let i = 0; i < idx.length; i++) idx[i] = i;
      for (let i = 0; i < psi; i++) {
        const j = i + randomInt(opts.random, idx.length - i);
        const tmp = idx[i]!;
        idx[i] = idx[j]!;
        idx[j] = tmp;
      }
      trees.push(grow(data, idx.slice(0, psi), limit, opts.random));
    }
    return new IsolationForest(trees, psi);
  }

  /** The mean path length of `x` over the trees, E[h(x)]. */
  pathLength(x: readonly number[]): number {
    let sum = 0;
    for (const t of this.#trees) {
      let node = 0;
      let depth = 0;
      while (t.feature[node]! >= 0) {
        node = x[t.feature[node]!]! < t.split[node]! ? t.left[node]! : t.right[node]!;
        depth++;
      }
      sum += depth + averagePathLength(t.size[node]!);
    }
    return sum / this.#trees.length;
  }

  /** Anomaly score in (0, 1]: > 0.6 stands out, < 0.5 is ordinary. */
  score(x: readonly number[]): number {
    return Math.pow(2, -this.pathLength(x) / this.#cPsi);
  }
}

function grow(data: readonly number[][], sample: Int32Array, limit: number, random: Random): Tree {
  const feature: number[] = [];
  const split: number[] = [];
  const left: number[] = [];
  const right: number[] = [];
  const size: number[] = [];
  const dims = data[0]!.length;
  const node = (rows: Int32Array, depth: number): number => {
    const id = feature.length;
    feature.push(-1);
    split.push(0);
    left.push(-1);
    right.push(-1);
    size.push(rows.length);
    if (depth >= limit || rows.length <= 1) return id;
    // Only features that still vary can split; none left means the points are identical.
    const candidates: number[] = [];
    const lo: number[] = [];
    const hi: number[] = [];
    for (let d = 0; d < dims; d++) {
      let mn = Infinity;
      let mx = -Infinity;
      for (const r of rows) {
        const v = data[r]![d]!;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      if (mx > mn) {
        candidates.push(d);
        lo.push(mn);
        hi.push(mx);
      }
    }
    if (candidates.length === 0) return id;
    const k = randomInt(random, candidates.length);
    const d = candidates[k]!;
    const s = lo[k]! + random() * (hi[k]! - lo[k]!);
    const l: number[] = [];
    const r: number[] = [];
    for (const row of rows) (data[row]![d]! < s ? l : r).push(row);
    feature[id] = d;
    split[id] = s;
    left[id] = node(Int32Array.from(l), depth + 1);
    right[id] = node(Int32Array.from(r), depth + 1);
    return id;
  };
  node(sample, 0);
  return {
    feature: Int32Array.from(feature),
    split: Float64Array.from(split),
    left: Int32Array.from(left),
    right: Int32Array.from(right),
    size: Int32Array.from(size),
  };
}
