import {
  dbscan,
  DbscanModel,
  kDistanceEps,
  kDistances,
  kneeIndex,
} from "../../../daemon/detect/dbscan.ts";
import { seededRandom } from "../../../daemon/detect/prng.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

function blob(cx: number, cy: number, n: number, r: () => number): number[][] {
  return Array.from({ length: n }, () => [cx + (r() - 0.5) * 0.4, cy + (r() - 0.5) * 0.4]);
}

Deno.test("dbscan() finds two known clusters and marks the far points noise", () => {
  const r = seededRandom(7);
  const points = [...blob(0, 0, 40, r), ...blob(5, 5, 40, r), [20, 20], [-15, 4]];
  const { labels, clusters } = dbscan(points, { eps: 0.5, minPoints: 4 });
  assertEquals(clusters, 2);
  const first = new Set(labels.slice(0, 40));
  const second = new Set(labels.slice(40, 80));
  assertEquals(first.size, 1);
  assertEquals(second.size, 1);
  assert(!first.has(-1) && !second.has(-1) && [...first][0] !== [...second][0]);
  assertEquals(labels.slice(80), [-1, -1]);
});

Deno.test("dbscan() keeps a border point in its cluster but not as a core", () => {
  const points = [[0, 0], [0.1, 0], [0, 0.1], [0.1, 0.1], [0.55, 0]];
  const { labels, core } = dbscan(points, { eps: 0.5, minPoints: 4 });
  assertEquals(labels, [0, 0, 0, 0, 0]);
  assertEquals(core[4], false);
  assertEquals(core[1], true);
});

Deno.test("kneeIndex() finds the elbow of an ascending curve", () => {
  const ys = [1, 1, 1.1, 1.1, 1.2, 1.2, 1.3, 1.3, 5, 9];
  assertEquals(kneeIndex(ys), 7);
  assertEquals(kneeIndex([2, 2, 2]), 2);
});

Deno.test("kDistanceEps() takes eps from the k-distance knee, between in- and out-cluster gaps", () => {
  const r = seededRandom(3);
  const points = [...blob(0, 0, 60, r), ...blob(4, 0, 60, r), [12, 12], [-10, 9], [9, -9]];
  const ks = kDistances(points, 3);
  assertEquals(ks.length, points.length);
  assert(ks.every((k, i) => i === 0 || k >= ks[i - 1]!), "k-distances are sorted");
  const eps = kDistanceEps(points, 3);
  assert(eps > 0.05 && eps < 1, `eps ${eps}`);
  const { labels, clusters } = dbscan(points, { eps, minPoints: 4 });
  assertEquals(clusters, 2);
  assertEquals(labels.slice(-3), [-1, -1, -1]);
  // A different scale gives a proportionally different eps: it is not a constant.
  const scaled = kDistanceEps(points.map(([x, y]) => [x! * 10, y! * 10]), 3);
  assert(Math.abs(scaled - eps * 10) < 1e-9, `scaled eps ${scaled} vs ${eps * 10}`);
  assertThrows(() => kDistances(points.slice(0, 3), 3), RangeError);
});

Deno.test("DbscanModel.nearestCore() is small inside a cluster and large far away", () => {
  const r = seededRandom(5);
  const m = new DbscanModel([...blob(0, 0, 80, r), ...blob(3, 3, 80, r)], 5);
  assert(m.nearestCore([0.05, 0.05]) <= m.eps, "inside point beyond eps");
  assert(m.nearestCore([10, -10]) > 10 * m.eps, "far point near a core");
  assert(m.maxKDistance >= m.eps);
});
