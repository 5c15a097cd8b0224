import {
  compactRangeHashes,
  compactRangeLayout,
  rootWithSuffix,
} from "../../../daemon/export/compact_range.ts";
import { MerkleFrontier, type NodeReader } from "../../../daemon/store/merkle.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";
import { mth, refLeaf } from "../../support/merkle_reference.ts";

function leaves(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => refLeaf(new TextEncoder().encode(`leaf ${i}`)));
}

/** Complete-subtree hashes straight from the RFC's MTH. */
function reader(d: Uint8Array[]): NodeReader {
  return { node: (level, index) => mth(d.slice(index * 2 ** level, (index + 1) * 2 ** level)) };
}

Deno.test("compactRangeLayout() covers [from, to) with maximal aligned subtrees, left to right", () => {
  assertEquals(compactRangeLayout(5, 5), []);
  assertEquals(compactRangeLayout(0, 8), [{ level: 3, index: 0 }]);
  assertEquals(compactRangeLayout(3, 13), [
    { level: 0, index: 3 },
    { level: 2, index: 1 },
    { level: 2, index: 2 },
    { level: 0, index: 12 },
  ]);
  for (let from = 0; from < 40; from++) {
    for (let to = from; to < 40; to++) {
      let at = from;
      for (const s of compactRangeLayout(from, to)) {
        assertEquals(s.index * 2 ** s.level, at, `[${from}, ${to})`);
        at += 2 ** s.level;
      }
      assertEquals(at, to);
    }
  }
  assertThrows(() => compactRangeLayout(3, 2), { instanceOf: RangeError });
});

Deno.test("rootWithSuffix() rebuilds MTH from the frontier, the middle leaves and the suffix", () => {
  for (const n of [1, 2, 3, 7, 8, 13, 32, 33]) {
    const d = leaves(n);
    for (let a = 0; a <= n; a++) {
      for (let b = a; b <= n; b++) {
        const f = MerkleFrontier.fromNodes(a, reader(d));
        for (let i = a; i < b; i++) f.append(d[i]!);
        const root = rootWithSuffix(f, n, compactRangeHashes(b, n, reader(d)));
        assertEquals(root, mth(d), `n ${n} a ${a} b ${b}`);
        assertEquals(f.size, b, "the frontier is left as it was");
      }
    }
  }
});

Deno.test("rootWithSuffix() refuses a suffix of the wrong length", () => {
  const d = leaves(13);
  const f = MerkleFrontier.fromNodes(5, reader(d));
  const hashes = compactRangeHashes(5, 13, reader(d));
  assertThrows(() => rootWithSuffix(f, 13, hashes.slice(1)), {
    instanceOf: RangeError,
    message: "want 4 subtree hashes, got 3",
  });
});
