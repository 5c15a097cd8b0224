import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  MerkleFrontier,
  nodeHash,
  type NodeReader,
  rootFromNodes,
  verifyConsistency,
  verifyInclusion,
} from "../../../daemon/store/merkle.ts";
import { h, mth, refLeaf, refNode, refPath, refProof } from "../../support/merkle_reference.ts";

/** Complete-subtree hashes by the reference MTH; refuses any node beyond the tree's size. */
function reader(d: Uint8Array[]): NodeReader & { reads: number } {
  return {
    reads: 0,
    node(level: number, index: number): Uint8Array {
      this.reads++;
      const w = 2 ** level;
      assert.ok((index + 1) * w <= d.length, `node(${level}, ${index}) beyond size ${d.length}`);
      return mth(d.slice(index * w, (index + 1) * w));
    },
  };
}

// ---- Fixtures and helpers. ----

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

let seed = 0x9e3779b9;
function random(n: number): number {
  seed = (seed * 1103515245 + 12345) >>> 0; // LCG: reproducible runs
  return Math.floor((seed / 2 ** 32) * n);
}
function leafData(i: number): Uint8Array {
  return new TextEncoder().encode(`event ${i} ${"x".repeat(i % 7)}`);
}
const LEAVES = Array.from({ length: 5000 }, (_, i) => refLeaf(leafData(i)));

/** Copies of the proof with one bit flipped: every bit when `all`, else a few per element. */
function flips(proof: Uint8Array[], all: boolean): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  proof.forEach((_, i) => {
    const bits = all ? [...Array(256).keys()] : [0, 255, random(256)];
    for (const bit of bits) {
      const q = proof.map((x) => x.slice());
      q[i]![bit >> 3]! ^= 1 << (bit & 7);
      out.push(q);
    }
  });
  return out;
}
function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const c = b.slice();
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
}

const SIZES = [...Array(71).keys(), 127, 128, 129, 1000, 1023, 1025, 2048 + random(2900), 5000];

// ---- Tests. ----

Deno.test("leafHash() and nodeHash() prefix 0x00 and 0x01 (RFC 9162 §2.1.1)", () => {
  const data = new Uint8Array([1, 2, 3]);
  assert.deepEqual(leafHash(data), refLeaf(data));
  assert.deepEqual(nodeHash(LEAVES[0]!, LEAVES[1]!), refNode(LEAVES[0]!, LEAVES[1]!));
  assert.throws(() => nodeHash(LEAVES[0]!, new Uint8Array(31)), RangeError);
});

Deno.test("MerkleFrontier.root() equals MTH after every append, and rootFromNodes() agrees", () => {
  const f = new MerkleFrontier();
  assert.equal(hex(f.root()), hex(h()));
  for (let n = 1; n <= 1100; n++) {
    f.append(LEAVES[n - 1]!);
    assert.equal(f.size, n);
    const want = mth(LEAVES.slice(0, n));
    assert.deepEqual(f.root(), want, `size ${n}`);
    assert.deepEqual(rootFromNodes(n, reader(LEAVES.slice(0, n))), want, `nodes ${n}`);
  }
  assert.deepEqual(rootFromNodes(0, reader([])), h());
});

Deno.test("MerkleFrontier clone(), toJSON() and fromJSON() keep the tree and stay independent", () => {
  const f = new MerkleFrontier();
  for (let n = 0; n < 70; n++) {
    const json = JSON.parse(JSON.stringify(f));
    const back = MerkleFrontier.fromJSON(json);
    const fromNodes = MerkleFrontier.fromNodes(n, reader(LEAVES.slice(0, n)));
    const copy = f.clone();
    for (const g of [back, fromNodes, copy]) {
      assert.equal(g.size, n);
      assert.deepEqual(g.root(), f.root());
      g.append(LEAVES[n]!);
      assert.deepEqual(g.root(), mth(LEAVES.slice(0, n + 1)));
    }
    assert.equal(f.size, n, "appending to a copy leaves the original alone");
    f.append(LEAVES[n]!);
  }
  assert.throws(() => f.append(new Uint8Array(33)), RangeError);
  for (const bad of [null, {}, { size: -1, nodes: [] }, { size: 3, nodes: ["00"] }]) {
    assert.throws(() => MerkleFrontier.fromJSON(bad), SyntaxError);
  }
  assert.throws(() => MerkleFrontier.fromJSON({ size: 1, nodes: ["zz".repeat(32)] }), SyntaxError);
});

Deno.test("inclusionProof() equals PATH and verifyInclusion() accepts only the exact proof", () => {
  for (const n of SIZES) {
    const d = LEAVES.slice(0, n), root = mth(d), src = reader(d);
    const indices = n <= 70 ? [...Array(n).keys()] : [0, 1, n - 2, n - 1, random(n), random(n)];
    for (const i of indices) {
      src.reads = 0;
      const proof = inclusionProof(i, n, src);
      assert.deepEqual(proof.map(hex), refPath(i, d).map(hex), `PATH(${i}, D[${n}])`);
      assert.ok(src.reads <= 2 * Math.log2(n + 1) ** 2 + 2, `reads for ${i} of ${n}`);
      assert.ok(verifyInclusion(d[i]!, i, n, proof, root), `verify ${i} of ${n}`);
      assert.ok(!verifyInclusion(refLeaf(Uint8Array.of(9, 9)), i, n, proof, root));
      for (const q of flips(proof, n <= 8)) assert.ok(!verifyInclusion(d[i]!, i, n, q, root));
      for (const bit of n <= 8 ? [...Array(256).keys()] : [0, 255, random(256)]) {
        assert.ok(!verifyInclusion(d[i]!, i, n, proof, flipBit(root, bit)), `root bit ${bit}`);
        assert.ok(!verifyInclusion(flipBit(d[i]!, bit), i, n, proof, root), `leaf bit ${bit}`);
      }
      // A wrong tree size may pass: RFC 9162 binds the size through the signed tree head, not
      // the proof. A wrong index never does.
      const others = n <= 70 ? [...Array(n + 2).keys()] : [i - 1, i + 1, random(n + 2)];
      for (const j of others) {
        if (j >= 0 && j !== i) assert.ok(!verifyInclusion(d[i]!, j, n, proof, root), `index ${j}`);
      }
      assert.ok(!verifyInclusion(d[i]!, i, n, [...proof, root], root), "extended");
      if (proof.length > 0) {
        assert.ok(!verifyInclusion(d[i]!, i, n, proof.slice(0, -1), root), "truncated");
        assert.ok(!verifyInclusion(d[i]!, i, n, proof.slice(1), root), "first dropped");
      }
    }
    assert.throws(() => inclusionProof(n, n, src), RangeError);
    assert.ok(!verifyInclusion(LEAVES[0]!, n, n, [], root), "index == size");
  }
  assert.throws(() => inclusionProof(-1, 4, reader(LEAVES.slice(0, 4))), RangeError);
  assert.throws(() => verifyInclusion(LEAVES[0]!, -1, 4, [], h()), RangeError);
});

Deno.test("consistencyProof() equals PROOF and verifyConsistency() accepts only the exact proof", () => {
  for (const n of SIZES) {
    const d = LEAVES.slice(0, n), rootN = mth(d), src = reader(d);
    const ms = n <= 70 ? [...Array(n + 1).keys()] : [0, 1, 2, n - 1, n, random(n), random(n)];
    for (const m of ms) {
      const rootM = mth(d.slice(0, m));
      const proof = consistencyProof(m, n, src);
      const want = m === 0 || m === n ? [] : refProof(m, d);
      assert.deepEqual(proof.map(hex), want.map(hex), `PROOF(${m}, D[${n}])`);
      assert.ok(verifyConsistency(m, n, rootM, rootN, proof), `verify ${m} -> ${n}`);
      for (const q of flips(proof, n <= 8)) {
        assert.ok(!verifyConsistency(m, n, rootM, rootN, q), `flip ${m} -> ${n}`);
      }
      for (const bit of n <= 8 ? [...Array(256).keys()] : [0, 255, random(256)]) {
        assert.ok(!verifyConsistency(m, n, flipBit(rootM, bit), rootN, proof), `rootM ${bit}`);
        // Every tree extends the empty one, so for m = 0 nothing binds rootN.
        const ok = m === 0 && n > 0;
        assert.equal(
          verifyConsistency(m, n, rootM, flipBit(rootN, bit), proof),
          ok,
          `rootN ${bit}`,
        );
      }
      // As for inclusion, only the old size is bound by the proof; n is bound by the tree head.
      for (const m2 of [m - 1, m + 1]) {
        if (m > 0 && m < n && m2 > 0 && m2 < n) {
          assert.ok(!verifyConsistency(m2, n, rootM, rootN, proof), `m ${m2} for ${m} -> ${n}`);
        }
      }
      assert.ok(!verifyConsistency(m, n, rootM, rootN, [...proof, rootN]), "extended");
      if (proof.length > 0) {
        assert.ok(!verifyConsistency(m, n, rootM, rootN, proof.slice(0, -1)), "truncated");
        assert.ok(!verifyConsistency(m, n, rootM, rootN, proof.slice(1)), "first dropped");
      }
    }
    assert.throws(() => consistencyProof(n + 1, n, src), RangeError);
  }
});

Deno.test("verifyConsistency() edge cases: m = n, m = 0, m > n", () => {
  const r3 = mth(LEAVES.slice(0, 3)), r4 = mth(LEAVES.slice(0, 4));
  assert.ok(verifyConsistency(3, 3, r3, r3, []));
  assert.ok(!verifyConsistency(3, 3, r3, r4, []), "m = n with different roots");
  assert.ok(!verifyConsistency(3, 3, r3, r3, [r3]), "m = n with a non-empty proof");
  assert.ok(verifyConsistency(0, 4, h(), r4, []), "anything extends the empty tree");
  assert.ok(!verifyConsistency(0, 4, r3, r4, []), "m = 0 with a root that is not empty");
  assert.ok(!verifyConsistency(0, 4, h(), r4, [r4]), "m = 0 with a non-empty proof");
  assert.ok(verifyConsistency(0, 0, h(), h(), []));
  assert.ok(!verifyConsistency(4, 3, r4, r3, []), "m > n");
  assert.ok(!verifyConsistency(3, 4, r3, r4, []), "0 < m < n with an empty proof");
  assert.throws(() => verifyConsistency(-1, 4, h(), r4, []), RangeError);
  assert.throws(() => verifyConsistency(1, 2.5, h(), r4, []), RangeError);
});

// The 8-leaf test tree of certificate-transparency's merkle_tree_test (RFC 6962 hashing).
const CT_LEAVES = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f",
].map((s) => leafHash(unhex(s)));
const CT_ROOTS = [
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

Deno.test("MerkleFrontier matches the certificate-transparency 8-leaf test vectors", () => {
  const f = new MerkleFrontier();
  assert.equal(hex(f.root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CT_LEAVES.forEach((leaf, i) => {
    f.append(leaf);
    assert.equal(hex(f.root()), CT_ROOTS[i], `root at size ${i + 1}`);
  });
});

Deno.test("inclusionProof() and consistencyProof() match certificate-transparency vectors", () => {
  const src = reader(CT_LEAVES);
  assert.deepEqual(inclusionProof(0, 8, src).map(hex), [
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
  ]);
  assert.deepEqual(consistencyProof(1, 8, src).map(hex), inclusionProof(0, 8, src).map(hex));
  assert.deepEqual(consistencyProof(6, 8, src).map(hex), [
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  ]);
  assert.deepEqual(consistencyProof(2, 5, reader(CT_LEAVES.slice(0, 5))).map(hex), [
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
  ]);
});

Deno.test("MerkleFrontier.appendSubtree() equals appending the subtree's leaves one by one", () => {
  for (const level of [0, 1, 3, 5]) {
    const width = 2 ** level;
    const leaves = Array.from(
      { length: width * 9 },
      (_, i) => leafHash(new Uint8Array([i, i >> 8])),
    );
    const one = new MerkleFrontier();
    const blocks = new MerkleFrontier();
    for (let b = 0; b < 9; b++) {
      const block = leaves.slice(b * width, (b + 1) * width);
      for (const l of block) one.append(l);
      const sub = new MerkleFrontier();
      for (const l of block) sub.append(l);
      blocks.appendSubtree(level, sub.root());
      assert.equal(blocks.size, one.size);
      assert.deepEqual(blocks.root(), one.root(), `level ${level}, block ${b}`);
    }
    if (level > 0) {
      const f = new MerkleFrontier();
      f.append(leaves[0]!);
      assert.throws(() => f.appendSubtree(level, leaves[1]!), RangeError);
    }
  }
});
