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
/** Features a node can name (its Int16 `feature`). */
const MAX_DIMS = 32_767;

/** Average path length of an unsuccessful search in a binary search tree of n points: c(n). */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER) - (2 * (n - 1)) / n;
}

/**
 * Every tree of a forest in flat arrays over one buffer, nodes in pre-order: a split's left child
 * is the node after it, so only its `right` is kept; a node is a split (`feature` ≥ 0, `value` its
 * threshold) or a leaf (`feature` −1, `value` the path length a point ends with there: its depth
 * plus c(size), the same sum `pathLength` made when it walked to it). Tree t starts at node
 * `roots[t]`. 14 bytes a node, not 24 (left, size and an Int32 feature): a fitted model is kept
 * for every role and peer group that has scored, ~26k nodes a forest of 100 trees over 15
 * features, 0.6 MB at 24 bytes a node and 0.35 MB at 14 (at 24, 20 MiB of a `serve` at rest
 * after detection took in a 10M log, against 2 MiB right after a restart, before any role
 * scored). One allocation a forest, not five a tree: a fit is grown in a pool
 * sized for the largest forest and then copied to its exact size, large enough for glibc to map
 * it on its own and give it back whole when it is freed. As 500 small buffers a fit, refitted
 * every few windows for every role, they were spread over the allocator's main arena (after
 * rebuilding detection from a 10M log it held 89 MB, 40 of them in use).
 */
interface Nodes {
  value: Float64Array;
  right: Int32Array;
  roots: Int32Array;
  feature: Int16Array;
}

/** Room for `n` nodes and `trees` roots, all in one buffer (one allocation). */
function nodeArrays(n: number, trees: number): Nodes {
  const buf = new ArrayBuffer(n * 14 + trees * 4);
  return {
    value: new Float64Array(buf, 0, n),
    right: new Int32Array(buf, n * 8, n),
    roots: new Int32Array(buf, n * 12, trees),
    feature: new Int16Array(buf, n * 12 + trees * 4, n),
  };
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
  readonly #trees: Nodes;
  readonly #psi: number;
  readonly #cPsi: number;

  private constructor(trees: Nodes, psi: number) {
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
    const dims = data[0]!.length;
    if (dims > MAX_DIMS) {
      throw new RangeError(
        `Cannot fit an Isolation Forest on ${dims} features (at most ${MAX_DIMS})`,
      );
    }
    // A tree of psi points has at most 2·psi − 1 nodes.
    const pool = nodeArrays(count * (2 * psi + 1), count);
    pool.feature.fill(-1);
    let used = 0;
    const flat = new Float64Array(data.length * dims);
    data.forEach((row, i) => flat.set(row, i * dims));
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
      pool.roots[t] = used;
      used = grow(flat, dims, idx.subarray(0, psi), limit, opts.random, pool, used);
    }
    const trees = nodeArrays(used, count);
    trees.value.set(pool.value.subarray(0, used));
    trees.right.set(pool.right.subarray(0, used));
    trees.feature.set(pool.feature.subarray(0, used));
    trees.roots.set(pool.roots);
    return new IsolationForest(trees, psi);
  }

  /** The mean path length of `x` over the trees, E[h(x)]. */
  pathLength(x: readonly number[]): number {
    const { feature, value, right, roots } = this.#trees;
    let sum = 0;
    for (const root of roots) {
      let node = root;
      while (feature[node]! >= 0) {
        node = x[feature[node]!]! < value[node]! ? node + 1 : right[node]!;
      }
      sum += value[node]!;
    }
    return sum / roots.length;
  }

  /** Anomaly score in (0, 1]: > 0.6 stands out, < 0.5 is ordinary. */
  score(x: readonly number[]): number {
    return Math.pow(2, -this.pathLength(x) / this.#cPsi);
  }
}

/**
 * Grows one tree over `rows` of the flat `data` (row-major, `dims` columns). Rows are
 * partitioned in place, and a node scans only the feature it picks (trying the others, in a
 * random order, only when that one is constant), which keeps growing cheap enough to retrain
 * per role while events flow. The tree's nodes go into `into` from node `first` on; returns the
 * node after its last.
 */
function grow(
  data: Float64Array,
  dims: number,
  rows: Int32Array,
  limit: number,
  random: Random,
  into: Nodes,
  first: number,
): number {
  const { feature, value, right } = into;
  const order = new Int32Array(dims);
  let nodes = first;
  const node = (lo: number, hi: number, depth: number): void => {
    const id = nodes++;
    // A leaf's path length, as the walk to it adds it up (an Int16 feature of −1 marks it).
    value[id] = depth + averagePathLength(hi - lo);
    if (depth >= limit || hi - lo <= 1) return;
    for (let d = 0; d < dims; d++) order[d] = d;
    for (let k = 0; k < dims; k++) {
      // Draw the next feature without replacement.
      const j = k + randomInt(random, dims - k);
      const d = order[j]!;
      order[j] = order[k]!;
      order[k] = d;
      let mn = Infinity;
      let mx = -Infinity;
      for (let i = lo; i < hi; i++) {
        const v = data[rows[i]! * dims + d]!;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      if (!(mx > mn)) continue;
      const s = mn + random() * (mx - mn);
      // Partition rows[lo, hi) into < s and ≥ s.
      let a = lo;
      let b = hi - 1;
      while (a <= b) {
        if (data[rows[a]! * dims + d]! < s) a++;
        else {
          const t = rows[a]!;
          rows[a] = rows[b]!;
          rows[b] = t;
          b--;
        }
      }
      feature[id] = d;
      value[id] = s;
      node(lo, a, depth + 1); // pre-order: the left child is node id + 1
      right[id] = nodes;
      node(a, hi, depth + 1);
      return;
    }
    // Every feature is constant: the points are identical and stay together in a leaf.
  };
  node(0, rows.length, 0);
  return nodes;
}
