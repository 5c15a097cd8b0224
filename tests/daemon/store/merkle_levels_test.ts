import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  inclusionProof,
  MerkleFrontier,
  rootFromNodes,
  verifyInclusion,
} from "../../../daemon/store/merkle.ts";
import { h, mth } from "../../support/merkle_reference.ts";
import {
  BLOCK_LEAVES,
  type BlockSource,
  MerkleLevels,
} from "../../../daemon/store/merkle_levels.ts";
import { buildBlock } from "../../../daemon/store/merkle_block.ts";

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

/** A source of blocks from LEAVES, as the log would give them when it holds `held()` records. */
function sourceOf(held: () => number = () => N): BlockSource {
  return (block) => {
    const leaves = new Uint8Array(BLOCK_LEAVES * 32), known = new Uint8Array(BLOCK_LEAVES);
    for (let i = 0; i < BLOCK_LEAVES; i++) {
      const seq = block * BLOCK_LEAVES + i;
      if (seq >= held()) break;
      leaves.set(LEAVES[seq]!, i * 32);
      known[i] = 1;
    }
    return Promise.resolve(buildBlock(block, leaves, known));
  };
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
      for (const l of [one, batched, whole]) {
        assert.equal(l.size, N);
        assert.deepEqual(l.tail(), { roots: [], leaves: packed(N - (N % 64), N) });
      }
    } finally {
      for (const l of [one, batched, whole]) l.close();
    }
    const want = files(a);
    // Levels below 6 are derived from the log's records, never stored.
    assert.deepEqual([...want.keys()], [6, 7, 8, 9, 10].map(name));
    assert.match(want.get("level-06.bin")!, new RegExp(`^${Math.floor(N / 64) * 32} bytes`));
    assert.match(want.get("level-08.bin")!, new RegExp(`^${Math.floor(N / 256) * 32} bytes`));
    assert.deepEqual(files(b), want);
    assert.deepEqual(files(c), want);
  });
});

Deno.test("MerkleLevels.node() is the MTH of its range, and proofs from it verify", async () => {
  await withDirs(1, async (dir) => {
    const levels = await MerkleLevels.open(dir, { source: sourceOf() });
    try {
      appendInBatches(levels, 0, 300, [5, 17, 1]);
      for (let level = 0; 2 ** level <= 300; level++) {
        const w = 2 ** level;
        for (let i = 0; (i + 1) * w <= 300; i++) {
          const got = await levels.read(() => levels.node(level, i));
          assert.deepEqual(got, mth(LEAVES.slice(i * w, (i + 1) * w)), `level ${level} node ${i}`);
        }
        const past = Math.floor(300 / w);
        assert.throws(() => levels.node(level, past), (e) =>
          e instanceof RangeError &&
          e.message.includes(`level ${level}`) && e.message.includes(`node ${past}`));
      }
      const root = mth(LEAVES.slice(0, 300));
      // The last block's nodes are in memory: no source needed for the root of the whole tree.
      assert.deepEqual(rootFromNodes(300, levels), root);
      for (const i of [0, 1, 150, 255, 256, 299]) {
        const proof = await levels.read(() => inclusionProof(i, 300, levels));
        assert.ok(verifyInclusion(LEAVES[i]!, i, 300, proof, root));
      }
      const f = await levels.read(() => MerkleFrontier.fromNodes(300, levels));
      assert.deepEqual(f.root(), root);
      assert.throws(() => levels.appendLeaves(new Uint8Array(31), 1), RangeError);
    } finally {
      levels.close();
    }
    const alone = await MerkleLevels.open(dir);
    try {
      alone.appendLeaves(packed(256, 300), 44);
      assert.deepEqual(alone.node(2, 70), mth(LEAVES.slice(280, 284)));
      assert.throws(() => alone.node(2, 3), /derived, not stored, and .* no source of leaves/);
      assert.deepEqual(alone.node(8, 0), mth(LEAVES.slice(0, 256)));
    } finally {
      alone.close();
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
    const cases: [number, number[]][] = [[999, [1]], [960, [3, 100]], [512, [513]], [64, [7]], [
      0,
      [9],
    ]];
    for (const [size, sizes] of cases) {
      const b = await MerkleLevels.open(cut);
      try {
        appendInBatches(b, b.size, 1000, [37]);
        // Different leaves past the cut, as when a crash lost events the levels still had.
        b.truncate(size);
        b.appendLeaves(packed(1000, 1300), 300);
        b.truncate(size - (size % 64));
        b.appendLeaves(packed(size - (size % 64), size), size % 64);
        assert.equal(b.size, size);
        assert.deepEqual(rootFromNodes(b.size, b), mth(LEAVES.slice(0, b.size)));
        const kept = files(cut);
        for (const [file, got] of kept) {
          assert.equal(got, wantPrefix(file, parseInt(got)), `${file} at size ${size}`);
        }
        const levelsLeft = size < 64 ? 1 : Math.floor(Math.log2(size)) - 5;
        assert.equal(kept.size, levelsLeft, `level files left at size ${size}`);
        appendInBatches(b, size, 1000, sizes);
      } finally {
        b.close();
      }
      assert.deepEqual(files(cut), want, `truncate to ${size}`);
    }
    const b = await MerkleLevels.open(cut);
    b.appendLeaves(packed(960, 1000), 40);
    assert.throws(() => b.truncate(1001), RangeError);
    // Below the last block only a block boundary: the leaves of the block cut are not held.
    assert.throws(() => b.truncate(511), /only to a multiple of 64/);
    b.close();
  });
});

Deno.test("MerkleLevels.open() repairs partial nodes and missing or extra parents", async () => {
  await withDirs(2, async (good, bad) => {
    const a = await MerkleLevels.open(good);
    a.appendLeaves(packed(0, 1400), 1400);
    a.close();
    const want = files(good);
    assert.deepEqual([...want.keys()], [6, 7, 8, 9, 10].map(name));
    // A crash mid-batch: a partial node, parents missing or beyond what level 6 holds.
    for (const file of want.keys()) Deno.copyFileSync(`${good}/${file}`, `${bad}/${file}`);
    Deno.writeFileSync(`${bad}/level-06.bin`, new Uint8Array(13), { append: true });
    Deno.truncateSync(`${bad}/level-07.bin`, 4 * 32 + 5);
    Deno.removeSync(`${bad}/level-09.bin`);
    Deno.writeFileSync(`${bad}/level-10.bin`, new Uint8Array(32), { append: true });
    Deno.writeFileSync(`${bad}/level-11.bin`, new Uint8Array(32));
    // What data format 2 kept: derived levels, removed on open.
    Deno.writeFileSync(`${bad}/level-00.bin`, packed(0, 1400));
    Deno.writeFileSync(`${bad}/level-05.bin`, new Uint8Array(32 * 43));
    const b = await MerkleLevels.open(bad);
    try {
      assert.equal(b.size, 1344); // the complete blocks; the caller appends the rest
      b.appendLeaves(packed(1344, 1401), 57);
      b.truncate(1400);
      assert.deepEqual(rootFromNodes(1400, b), mth(LEAVES.slice(0, 1400)));
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
    let logged = 0;
    const writer = await MerkleLevels.open(dir);
    const reader = await MerkleLevels.openReadOnly(dir, { source: sourceOf(() => logged) });
    const log = (to: number): void => {
      writer.appendLeaves(packed(logged, to), to - logged);
      logged = to;
    };
    try {
      log(5);
      assert.throws(() => reader.size, /read-only/);
      assert.deepEqual(await reader.read(() => reader.node(2, 0)), mth(LEAVES.slice(0, 4)));
      await assert.rejects(
        () => reader.read(() => reader.node(2, 1)),
        (e) => e instanceof RangeError && e.message.includes("level 2 node 1"),
      );
      assert.throws(() => reader.node(6, 0), RangeError); // no block complete yet
      log(200);
      await writer.sync();
      // The block read when it held 5 leaves is read again now that it holds more.
      assert.deepEqual(await reader.read(() => reader.node(3, 7)), mth(LEAVES.slice(56, 64)));
      assert.deepEqual(reader.node(6, 0), mth(LEAVES.slice(0, 64)));
      assert.deepEqual(reader.node(7, 0), mth(LEAVES.slice(0, 128)));
      const root = await reader.read(() => rootFromNodes(200, reader));
      assert.deepEqual(root, rootFromNodes(200, writer));
      assert.throws(() => reader.appendLeaves(packed(0, 1), 1), /read-only/);
    } finally {
      reader.close();
      writer.close();
    }
    assert.throws(() => reader.node(0, 0), /closed/);
  });
});

Deno.test("MerkleLevels.seedTail() continues a block whose first leaves are gone, from their roots", async () => {
  await withDirs(3, async (full, seeded, handed) => {
    const a = await MerkleLevels.open(full);
    a.appendLeaves(packed(0, 1100), 1100);
    a.close();
    // Retention kept the compact range of [0, 1000): in block 15, [960, 992) and [992, 1000).
    const b = await MerkleLevels.open(seeded);
    try {
      b.appendLeaves(packed(0, 960), 960);
      const roots = [
        { level: 5, index: 30, hash: mth(LEAVES.slice(960, 992)) },
        { level: 3, index: 124, hash: mth(LEAVES.slice(992, 1000)) },
      ];
      assert.throws(() => b.seedTail(roots.slice(1)), /must tile it from leaf 960/);
      b.seedTail(roots);
      assert.equal(b.size, 1000);
      b.appendLeaves(packed(1000, 1010), 10);
      assert.deepEqual(rootFromNodes(1010, b), mth(LEAVES.slice(0, 1010)));
      assert.deepEqual(b.node(4, 62), mth(LEAVES.slice(992, 1008)));
      assert.throws(() => b.node(0, 970), /covers deleted leaves/);
      // Another writer (the hash worker) takes the block over.
      const c = await MerkleLevels.open(handed);
      try {
        c.appendLeaves(packed(0, 960), 960);
        c.restoreTail(b.tail());
        c.appendLeaves(packed(1010, 1100), 90);
        assert.deepEqual(rootFromNodes(1100, c), mth(LEAVES.slice(0, 1100)));
      } finally {
        c.close();
      }
      b.appendLeaves(packed(1010, 1100), 90);
    } finally {
      b.close();
    }
    assert.deepEqual(files(seeded), files(full));
    assert.deepEqual(files(handed), files(full));
  });
});
