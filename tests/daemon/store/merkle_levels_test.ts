import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  inclusionProof,
  MerkleFrontier,
  rootFromNodes,
  verifyInclusion,
} from "../../../daemon/store/merkle.ts";
import { h, mth } from "../../support/merkle_reference.ts";
import { MerkleLevels } from "../../../daemon/store/merkle_levels.ts";

const N = 1500;
const LEAVES = Array.from({ length: N }, (_, i) => h(Uint8Array.of(0), Uint8Array.of(i, i >> 8)));
const packed = (from: number, to: number): Uint8Array => {
  const out = new Uint8Array((to - from) * 32);
  for (let i = from; i < to; i++) out.set(LEAVES[i]!, (i - from) * 32);
  return out;
};

async function withDirs(n: number, fn: (...dirs: string[]) => Promise<void>): Promise<void> {
  const dirs = Array.from({ length: n }, () => Deno.makeTempDirSync({ prefix: "vigil-levels-" }));
  try {
    await fn(...dirs);
  } finally {
    for (const d of dirs) Deno.removeSync(d, { recursive: true });
  }
}

const describe = (b: Uint8Array): string =>
  `${b.length} bytes, sha256 ${createHash("sha256").update(b).digest("hex")}`;
const name = (l: number): string => `level-${String(l).padStart(2, "0")}.bin`;

/**
 * Every file of `dir`, name to length and digest: a digest keeps a failure's message short, where
 * assert's diff of large byte arrays takes minutes.
 */
function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of Deno.readDirSync(dir)) {
    out.set(e.name, describe(Deno.readFileSync(`${dir}/${e.name}`)));
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

/** Appends leaves [from, to) in batches of the given sizes, cycling. */
function appendInBatches(levels: MerkleLevels, from: number, to: number, sizes: number[]): void {
  for (let i = from, b = 0; i < to; b++) {
    const n = Math.min(sizes[b % sizes.length]!, to - i);
    levels.appendLeaves(packed(i, i + n), n);
    i += n;
  }
}

Deno.test("MerkleLevels.appendLeaves() in batches writes the same files as one by one", async () => {
  await withDirs(3, async (a, b, c) => {
    const one = await MerkleLevels.open(a), batched = await MerkleLevels.open(b);
    const whole = await MerkleLevels.open(c);
    try {
      appendInBatches(one, 0, N, [1]);
      appendInBatches(batched, 0, N, [3, 1, 64, 0, 7, 128, 2, 255]);
      whole.appendLeaves(packed(0, N), N);
      for (const l of [one, batched, whole]) assert.equal(l.size, N);
    } finally {
      for (const l of [one, batched, whole]) l.close();
    }
    const want = files(a);
    assert.deepEqual([...want.keys()], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(name));
    assert.match(want.get("level-03.bin")!, new RegExp(`^${Math.floor(N / 8) * 32} bytes`));
    assert.deepEqual(files(b), want);
    assert.deepEqual(files(c), want);
  });
});

Deno.test("MerkleLevels.node() is the MTH of its range, and proofs from it verify", async () => {
  await withDirs(1, async (dir) => {
    const levels = await MerkleLevels.open(dir);
    try {
      appendInBatches(levels, 0, 300, [5, 17, 1]);
      for (let level = 0; 2 ** level <= 300; level++) {
        const w = 2 ** level;
        for (let i = 0; (i + 1) * w <= 300; i++) {
          assert.deepEqual(levels.node(level, i), mth(LEAVES.slice(i * w, (i + 1) * w)));
        }
        const past = Math.floor(300 / w);
        assert.throws(() => levels.node(level, past), (e) =>
          e instanceof RangeError &&
          e.message.includes(`level ${level}`) && e.message.includes(`node ${past}`));
      }
      assert.deepEqual(rootFromNodes(300, levels), mth(LEAVES.slice(0, 300)));
      for (const i of [0, 1, 150, 255, 256, 299]) {
        const proof = inclusionProof(i, 300, levels);
        assert.ok(verifyInclusion(LEAVES[i]!, i, 300, proof, mth(LEAVES.slice(0, 300))));
      }
      const f = MerkleFrontier.fromNodes(300, levels);
      assert.deepEqual(f.root(), mth(LEAVES.slice(0, 300)));
      assert.throws(() => levels.appendLeaves(new Uint8Array(31), 1), RangeError);
    } finally {
      levels.close();
    }
  });
});

Deno.test("MerkleLevels.truncate() then re-appending reproduces the untruncated files", async () => {
  await withDirs(2, async (full, cut) => {
    const a = await MerkleLevels.open(full);
    a.appendLeaves(packed(0, 1000), 1000);
    a.close();
    const want = files(full);
    const wantPrefix = (file: string, length: number): string =>
      describe(Deno.readFileSync(`${full}/${file}`).subarray(0, length));
    const cases: [number, number[]][] = [[999, [1]], [512, [3, 100]], [511, [513]], [1, [7]], [0, [
      9,
    ]]];
    for (const [size, sizes] of cases) {
      const b = await MerkleLevels.open(cut);
      try {
        appendInBatches(b, b.size, 1000, [37]);
        // Different leaves past the cut, as when a crash lost events the levels still had.
        b.truncate(size);
        b.appendLeaves(packed(1000, 1300), 300);
        b.truncate(size);
        assert.equal(b.size, size);
        assert.deepEqual(rootFromNodes(b.size, b), mth(LEAVES.slice(0, b.size)));
        const kept = files(cut);
        for (const [file, got] of kept) {
          assert.equal(got, wantPrefix(file, parseInt(got)), `${file} at size ${size}`);
        }
        const levelsLeft = size === 0 ? 1 : Math.floor(Math.log2(size)) + 1;
        assert.equal(kept.size, levelsLeft, `level files left at size ${size}`);
        appendInBatches(b, size, 1000, sizes);
      } finally {
        b.close();
      }
      assert.deepEqual(files(cut), want, `truncate to ${size}`);
    }
    const b = await MerkleLevels.open(cut);
    assert.throws(() => b.truncate(1001), RangeError);
    b.close();
  });
});

Deno.test("MerkleLevels.open() repairs partial nodes and missing or extra parents", async () => {
  await withDirs(2, async (good, bad) => {
    const a = await MerkleLevels.open(good);
    a.appendLeaves(packed(0, 700), 700);
    a.close();
    const want = files(good);
    // A crash mid-batch: a partial leaf, parents missing or beyond what level 0 holds.
    for (const file of want.keys()) Deno.copyFileSync(`${good}/${file}`, `${bad}/${file}`);
    Deno.writeFileSync(`${bad}/level-00.bin`, new Uint8Array(13), { append: true });
    Deno.truncateSync(`${bad}/level-01.bin`, 100 * 32 + 5);
    Deno.removeSync(`${bad}/level-04.bin`);
    Deno.writeFileSync(`${bad}/level-09.bin`, new Uint8Array(32), { append: true });
    Deno.writeFileSync(`${bad}/level-10.bin`, new Uint8Array(32));
    const b = await MerkleLevels.open(bad);
    try {
      assert.equal(b.size, 700);
      b.appendLeaves(packed(700, 701), 1);
      b.truncate(700);
      await b.sync();
    } finally {
      b.close();
    }
    assert.deepEqual(files(bad), want);
  });
});

Deno.test("MerkleLevels.openReadOnly() sees nodes a writer appends after it opened", async () => {
  await withDirs(1, async (dir) => {
    await assert.rejects(() => MerkleLevels.openReadOnly(`${dir}/missing`), Deno.errors.NotFound);
    const writer = await MerkleLevels.open(dir);
    const reader = await MerkleLevels.openReadOnly(dir);
    try {
      writer.appendLeaves(packed(0, 5), 5);
      assert.equal(reader.size, 5);
      assert.deepEqual(reader.node(2, 0), mth(LEAVES.slice(0, 4)));
      assert.throws(() => reader.node(2, 1), (e) =>
        e instanceof RangeError &&
        e.message.includes("level 2") && e.message.includes("node 1"));
      assert.throws(() => reader.node(3, 0), RangeError); // level-03.bin does not exist yet
      writer.appendLeaves(packed(5, 64), 59);
      await writer.sync();
      assert.equal(reader.size, 64);
      assert.deepEqual(reader.node(3, 7), mth(LEAVES.slice(56, 64)));
      assert.deepEqual(reader.node(6, 0), mth(LEAVES.slice(0, 64)));
      assert.deepEqual(rootFromNodes(reader.size, reader), rootFromNodes(64, writer));
      assert.throws(() => reader.appendLeaves(packed(0, 1), 1), /read-only/);
    } finally {
      reader.close();
      writer.close();
    }
    assert.throws(() => reader.node(0, 0), /closed/);
  });
});
