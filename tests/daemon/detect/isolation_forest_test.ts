import { averagePathLength, IsolationForest } from "../../../daemon/detect/isolation_forest.ts";
import { seededRandom } from "../../../daemon/detect/prng.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

function cloud(n: number, seed: number): number[][] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => [gaussian(r), gaussian(r), gaussian(r)]);
}

Deno.test("averagePathLength() follows c(n) = 2H(n−1) − 2(n−1)/n", () => {
  assertEquals(averagePathLength(0), 0);
  assertEquals(averagePathLength(1), 0);
  assertEquals(averagePathLength(2), 1);
  // H(255) by summation, against the formula's ln + Euler–Mascheroni approximation.
  let h = 0;
  for (let i = 1; i <= 255; i++) h += 1 / i;
  const exact = 2 * h - (2 * 255) / 256;
  assert(Math.abs(averagePathLength(256) - exact) < 0.01, `c(256) ${averagePathLength(256)}`);
  assert(Math.abs(averagePathLength(256) - 10.2448) < 0.001);
});

Deno.test("IsolationForest.score() puts clear outliers above 0.6 and inliers below 0.5", () => {
  const data = cloud(1000, 3);
  const forest = IsolationForest.fit(data, { random: seededRandom(11) });
  assertEquals(forest.subsample, 256);
  // Far out in every dimension: axis-parallel cuts isolate it whichever feature they pick.
  for (const x of [[8, 8, 8], [-7, 6, -7], [6, -8, 7]]) {
    const s = forest.score(x);
    assert(s > 0.6, `outlier ${x} scored ${s}`);
  }
  const inliers = cloud(200, 99);
  const scores = inliers.map((x) => forest.score(x)).sort((a, b) => a - b);
  const median = scores[100]!;
  assert(median < 0.5, `median inlier score ${median}`);
  assert(forest.score([0, 0, 0]) < 0.5, `centre scored ${forest.score([0, 0, 0])}`);
});

Deno.test("IsolationForest.fit() is deterministic under a seed and differs across seeds", () => {
  const data = cloud(600, 5);
  const probe = [[0.1, 0.2, 0.3], [3, -2, 1], [6, 6, 0]];
  const a = IsolationForest.fit(data, { random: seededRandom(42) });
  const b = IsolationForest.fit(data, { random: seededRandom(42) });
  const c = IsolationForest.fit(data, { random: seededRandom(43) });
  assertEquals(probe.map((x) => a.score(x)), probe.map((x) => b.score(x)));
  assert(probe.some((x) => a.score(x) !== c.score(x)), "another seed grew the same forest");
});

Deno.test("IsolationForest.fit() handles identical points and refuses no data or too many features", () => {
  const same = Array.from({ length: 50 }, () => [1, 2]);
  const f = IsolationForest.fit(same, { random: seededRandom(1), trees: 10 });
  assertEquals(f.subsample, 50);
  // No split is possible: every point ends in the root leaf, at path c(50), score exactly 0.5.
  assertEquals(f.score([1, 2]), 0.5);
  assertThrows(() => IsolationForest.fit([], { random: seededRandom(1) }), RangeError);
  // A node names its feature in 16 bits.
  const wide = [new Array<number>(32_768).fill(1)];
  assertThrows(() => IsolationForest.fit(wide, { random: seededRandom(1) }), {
    instanceOf: RangeError,
    message: /32768 features/,
  });
});

Deno.test("IsolationForest.fit() grows the trees it grew when each tree had arrays of its own", () => {
  // Path lengths of the forest before its trees were packed into shared arrays: snapshots keep
  // the rows and regrow the models, so the same rows and seed must give the same forest.
  const r = seededRandom(7);
  const data = Array.from(
    { length: 700 },
    (_, i) => [r() * 10, (i % 13) * 1.0, r() < 0.2 ? 5 : r()],
  );
  const f = IsolationForest.fit(data, { random: seededRandom(2026), trees: 40 });
  const probes = [[0, 0, 0], [5, 6, 0.5], [9.9, 12, 5], [20, -3, 1], [3.3, 7, 0.1]];
  assertEquals(probes.map((x) => f.pathLength(x)), [
    6.549444275042094,
    11.660000899586185,
    5.45,
    7.016827437403505,
    10.562348710035671,
  ]);
});
