/**
 * DBSCAN (Ester et al., 1996) over feature vectors, with eps taken from the data: the knee of
 * the sorted k-distance curve (each point's distance to its k-th nearest neighbour), found as
 * the point farthest from the chord between the curve's ends. Deterministic: no randomness.
 *
 * @example
 * const eps = kDistanceEps(points, 4);
 * const { labels } = dbscan(points, { eps, minPoints: 5 }); // -1 marks noise
 */

/** Euclidean distance. */
export function distance(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return Math.sqrt(s);
}

/** Pairwise distances, row-major n×n: computed once, shared by eps selection and clustering. */
export function distanceMatrix(points: readonly number[][]): Float64Array {
  const n = points.length;
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const d = distance(points[i]!, points[j]!);
      m[i * n + j] = d;
      m[j * n + i] = d;
    }
  }
  return m;
}

function kDistancesOf(m: Float64Array, n: number, k: number): number[] {
  if (k < 1 || k >= n) throw new RangeError(`Cannot take k-distances with k=${k} over ${n} points`);
  const out: number[] = [];
  // The k smallest distances so far, ascending: k is small, so insertion beats sorting a row.
  const best = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    best.fill(Infinity);
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const d = m[i * n + j]!;
      if (d >= best[k - 1]!) continue;
      let p = k - 1;
      while (p > 0 && best[p - 1]! > d) {
        best[p] = best[p - 1]!;
        p--;
      }
      best[p] = d;
    }
    out.push(best[k - 1]!);
  }
  return out.sort((a, b) => a - b);
}

/** Each point's distance to its k-th nearest other point, sorted ascending. */
export function kDistances(points: readonly number[][], k: number): number[] {
  return kDistancesOf(distanceMatrix(points), points.length, k);
}

/** The knee of an ascending curve: the index farthest from the chord joining its ends. */
export function kneeIndex(ys: readonly number[]): number {
  const n = ys.length;
  if (n < 3) return n - 1;
  const y0 = ys[0]!;
  const span = ys[n - 1]! - y0;
  if (span <= 0) return n - 1;
  let best = n - 1;
  let bestGap = 0;
  // Both axes scaled to [0, 1]: the chord is then y = x, and the knee maximises x − y.
  for (let i = 0; i < n; i++) {
    const gap = i / (n - 1) - (ys[i]! - y0) / span;
    if (gap > bestGap) [best, bestGap] = [i, gap];
  }
  return best;
}

/** eps for DBSCAN: the k-distance at the knee of the sorted k-distance curve (k = minPoints−1). */
export function kDistanceEps(points: readonly number[][], k: number): number {
  const ks = kDistances(points, k);
  const eps = ks[kneeIndex(ks)]!;
  // Identical points give eps 0; a tiny floor keeps them one cluster rather than all noise.
  return eps > 0 ? eps : 1e-9;
}

/** Result of `dbscan`: cluster ids from 0, −1 for noise, and which points are core points. */
export interface DbscanResult {
  labels: number[];
  core: boolean[];
  clusters: number;
}

/** Clusters `points`: core points have ≥ minPoints neighbours within eps (themselves included). */
export function dbscan(
  points: readonly number[][],
  opts: { eps: number; minPoints: number },
): DbscanResult {
  return dbscanOf(distanceMatrix(points), points.length, opts);
}

function dbscanOf(
  m: Float64Array,
  n: number,
  opts: { eps: number; minPoints: number },
): DbscanResult {
  const neighbours: number[][] = [];
  for (let i = 0; i < n; i++) {
    const list: number[] = [];
    for (let j = 0; j < n; j++) if (m[i * n + j]! <= opts.eps) list.push(j);
    neighbours.push(list);
  }
  const core = neighbours.map((l) => l.length >= opts.minPoints);
  const labels = new Array<number>(n).fill(-1);
  let clusters = 0;
  for (let i = 0; i < n; i++) {
    if (!core[i] || labels[i] !== -1) continue;
    const id = clusters++;
    labels[i] = id;
    const stack = [i];
    while (stack.length > 0) {
      const p = stack.pop()!;
      if (!core[p]) continue;
      for (const q of neighbours[p]!) {
        if (labels[q] !== -1) continue;
        labels[q] = id;
        stack.push(q);
      }
    }
  }
  return { labels, core, clusters };
}

/** A fitted DBSCAN model that places new points: inside a cluster, or noise. */
export class DbscanModel {
  readonly eps: number;
  /** The largest k-distance of the training points: how isolated the baseline's loneliest was. */
  readonly maxKDistance: number;
  readonly #cores: number[][];

  constructor(points: readonly number[][], minPoints: number) {
    const m = distanceMatrix(points);
    const ks = kDistancesOf(
      m,
      points.length,
      Math.max(1, Math.min(minPoints - 1, points.length - 1)),
    );
    const knee = ks[kneeIndex(ks)]!;
    this.eps = knee > 0 ? knee : 1e-9;
    this.maxKDistance = ks[ks.length - 1]!;
    const r = dbscanOf(m, points.length, { eps: this.eps, minPoints });
    this.#cores = points.filter((_, i) => r.core[i]);
  }

  /** Distance from `x` to the nearest core point (Infinity when there is none). */
  nearestCore(x: readonly number[]): number {
    let best = Infinity;
    for (const c of this.#cores) {
      const d = distance(x, c);
      if (d < best) best = d;
    }
    return best;
  }
}
