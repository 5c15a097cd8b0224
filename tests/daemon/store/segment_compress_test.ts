import { crc32c } from "../../../daemon/store/crc32c.ts";
import { HEADER_SIZE } from "../../../daemon/store/frame.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import {
  BLOCK_BYTES,
  compressedPath,
  decodeBlockTable,
  decompressSegment,
} from "../../../daemon/store/segment_compress.ts";
import { listSegments, loadSegment } from "../../../daemon/store/segment_file.ts";
import { Store } from "../../../daemon/store/store.ts";
import { storePaths } from "../../../daemon/store/store_open.ts";
import { verifyStore } from "../../../daemon/store/verify.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { copyDir, makeWritable, patchFile, testEvent, withTempDir } from "../../support/store.ts";
import { compressSegmentBytes } from "../../support/compress_whole.ts";

const COMPRESSING = { checkpointIntervalMs: 0, hashWorker: false, compressSealed: true };
/** Bytes of a block entry in a compressed segment's table (`VIGILSZ2`). */
const ENTRY = 80;

/** A store of `n` events in segments of about `segBytes`, compressed as they are sealed. */
async function compressedStore(dir: string, n: number, segBytes: number): Promise<string[]> {
  const store = await Store.open(dir, { ...COMPRESSING, maxSegmentBytes: segBytes });
  for (let i = 0; i < n; i += 50) {
    const events = Array.from({ length: Math.min(50, n - i) }, (_, k) => testEvent(i + k));
    await store.append({ source: "s", events, position: `p${i + events.length}` });
    if (i === 500) await store.checkpoint();
  }
  await store.close();
  return (await Array.fromAsync(readLog(dir))).map((r) => r.json);
}

Deno.test("compressSegmentBytes() gives back the sealed bytes block by block, at record boundaries", async () => {
  await withTempDir(async (dir) => {
    // One segment of ~3 MiB: more than one block.
    const store = await Store.open(dir, { checkpointIntervalMs: 0, hashWorker: false });
    for (let i = 0; i < 12_000; i += 500) {
      await store.append({
        source: "s",
        events: Array.from({ length: 500 }, (_, k) => testEvent(i + k)),
      });
    }
    await store.close();
    const [entry] = await listSegments(storePaths(dir).segments);
    const raw = await Deno.readFile(entry!.path);
    const packed = compressSegmentBytes(raw, 0);
    const table = decodeBlockTable(packed);
    assert(table.blocks.length >= 2, `${table.blocks.length} blocks`);
    assert(packed.length * 3 < raw.length, `${packed.length} of ${raw.length} bytes`);
    assertEquals(decompressSegment(packed), raw);
    // Each block after the first starts where a record starts, with the seq it starts at.
    for (const b of table.blocks.slice(1)) {
      assert(b.rawLength <= BLOCK_BYTES + 4096);
      const body = new TextDecoder().decode(raw.subarray(b.rawOffset + 8 + 33, b.rawOffset + 60));
      assertMatch(body, new RegExp(`^\\{"seq":${b.firstSeq},`));
    }
    assertEquals(table.blocks[0]!.rawOffset, 0);
    assert(table.blocks[0]!.rawLength > HEADER_SIZE);
  });
});

Deno.test("Store compresses sealed segments: every reader and verify see the same log, and it is smaller", async () => {
  await withTempDir(async (dir) => {
    const plain = `${dir}/plain`;
    const packed = `${dir}/packed`;
    const a = await compressedStore(packed, 2_000, 64 * 1024);
    const store = await Store.open(plain, { checkpointIntervalMs: 0, maxSegmentBytes: 64 * 1024 });
    for (let i = 0; i < 2_000; i += 50) {
      const events = Array.from({ length: 50 }, (_, k) => testEvent(i + k));
      await store.append({ source: "s", events, position: `p${i + 50}` });
    }
    await store.close();
    const segs = await listSegments(storePaths(packed).segments);
    assert(segs.length > 3, `${segs.length} segments`);
    // Every sealed one is compressed; the active one is not.
    assertEquals(segs.map((s) => s.compressed === true), segs.map((_, i) => i < segs.length - 1));
    // The same events (only the time each was stored differs between the two stores).
    const noIngest = (j: string): string => j.replace(/"ingest_ts":\d+,/, "");
    assertEquals(
      a.map(noIngest),
      (await Array.fromAsync(readLog(plain))).map((r) => noIngest(r.json)),
    );
    const report = await verifyStore(packed);
    assert(report.ok, report.problem?.text);
    assertEquals(report.events, 2_000);
    const size = async (d: string): Promise<number> => {
      let total = 0;
      for (const s of await listSegments(storePaths(d).segments)) {
        total += (await Deno.stat(s.path)).size;
      }
      return total;
    };
    assert(
      (await size(packed)) * 3 < await size(plain),
      "compressed segments take a third or less",
    );
    // The store reopens on them and goes on; proofs still come from them.
    const again = await Store.open(packed, COMPRESSING);
    assertEquals([again.size, again.position("s")], [2_000, "p2000"]);
    await again.close();
    const proof = await runVigil(["prove", "--data", packed, "--seq", "17"]);
    assertEquals(proof.code, 0, proof.stderr);
  });
});

Deno.test("verify names a compressed segment whose block or table was altered", async () => {
  await withTempDir(async (dir) => {
    await compressedStore(`${dir}/orig`, 2_000, 64 * 1024);
    const [first] = await listSegments(storePaths(`${dir}/orig`).segments);
    assert(first!.compressed);
    for (const [what, at] of [["block", -20], ["table", 30]] as const) {
      const copy = `${dir}/${what}`;
      await copyDir(`${dir}/orig`, copy);
      await makeWritable(copy);
      const path = `${storePaths(copy).segments}/${first!.name}`;
      const bytes = await Deno.readFile(path);
      const off = at < 0 ? bytes.length + at : at;
      await patchFile(path, off, new Uint8Array([bytes[off]! ^ 0x10]));
      const report = await verifyStore(copy);
      assert(!report.ok, `${what}: tampering must be caught`);
      assertEquals(report.problem!.place.segment, first!.name);
      assertMatch(report.problem!.reason, /compressed segment/);
      await assertThrowsAsync(() => loadSegment({ ...first!, path }));
    }
  });
});

Deno.test("a compression cut short by a crash leaves the original, which the next open compresses", async () => {
  await withTempDir(async (dir) => {
    const jsons = await compressedStore(dir, 2_000, 64 * 1024);
    const segs = await listSegments(storePaths(dir).segments);
    const last = segs.at(-2)!; // the last sealed one
    // Undo its compression as a crash before the rename would have left it: the original back,
    // the twin a partial temp file.
    const raw = (await loadSegment(last)).bytes;
    const original = last.path.slice(0, -1);
    await Deno.writeFile(original, raw, { mode: 0o444 });
    await Deno.chmod(last.path, 0o644);
    await Deno.rename(last.path, `${last.path}.tmp`);
    await Deno.truncate(`${last.path}.tmp`, 100);
    const listed = await listSegments(storePaths(dir).segments);
    assertEquals(listed.at(-2)!.compressed, undefined);
    assertEquals((await Array.fromAsync(readLog(dir))).map((r) => r.json), jsons);
    const store = await Store.open(dir, COMPRESSING);
    await store.compressed();
    await store.close();
    const after = await listSegments(storePaths(dir).segments);
    assertEquals(after.at(-2)!.compressed, true);
    await assertMissing(original);
    await assertMissing(compressedPath(original) + ".tmp");
    assert((await verifyStore(dir)).ok);
    assertEquals((await Array.fromAsync(readLog(dir))).map((r) => r.json), jsons);
  });
});

async function assertThrowsAsync(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch {
    return;
  }
  throw new Error("expected a rejection");
}

async function assertMissing(path: string): Promise<void> {
  try {
    await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  throw new Error(`${path} is still there`);
}

Deno.test("verify checks a compressed segment's blocks apart and catches a forged chain head in its table", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, { ...COMPRESSING, maxSegmentBytes: 3 * 1024 * 1024 });
    for (let i = 0; i < 34_000; i += 500) {
      const events = Array.from({ length: 500 }, (_, k) => testEvent(i + k));
      await store.append({ source: "s", events, position: `p${i + 500}` });
    }
    await store.close();
    const [first] = await listSegments(storePaths(dir).segments);
    assert(first!.compressed);
    const file = await Deno.readFile(first!.path);
    assert(decodeBlockTable(file).blocks.length >= 3, "a segment of several blocks");
    const good = await verifyStore(dir);
    assert(good.ok, good.problem?.text);
    // Over 8 MiB: verify checks on Workers, each block a run of its own. Block 1's chain head in
    // the table changed, and the table's CRC made to match.
    const dv = new DataView(file.buffer);
    const count = dv.getUint32(16);
    const entry1 = 20 + ENTRY;
    file[entry1 + 32]! ^= 0x01;
    const tableEnd = 20 + count * ENTRY;
    dv.setUint32(tableEnd, crc32c(file, 0, tableEnd));
    await Deno.chmod(first!.path, 0o644);
    await Deno.writeFile(first!.path, file);
    const bad = await verifyStore(dir);
    assert(!bad.ok, "a forged chain head must be caught");
    assertEquals(bad.problem!.place.segment, first!.name);
    assertMatch(bad.problem!.reason, /chain/);
  });
});

Deno.test("verify catches a block's event time span narrowed in its table", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, { ...COMPRESSING, maxSegmentBytes: 3 * 1024 * 1024 });
    for (let i = 0; i < 34_000; i += 500) {
      const events = Array.from({ length: 500 }, (_, k) => testEvent(i + k));
      await store.append({ source: "s", events });
    }
    await store.close();
    const [first] = await listSegments(storePaths(dir).segments);
    assert(first!.compressed);
    const file = await Deno.readFile(first!.path);
    const block1 = decodeBlockTable(file).blocks[1]!;
    assert(block1.times!.min < block1.times!.max, "a block of several event times");
    // Block 1's greatest time moved down to its least, and the table's CRC made to match: an
    // export of a range would skip the block where it should read it.
    const dv = new DataView(file.buffer);
    const count = dv.getUint32(16);
    dv.setFloat64(20 + ENTRY + 72, block1.times!.min);
    const tableEnd = 20 + count * ENTRY;
    dv.setUint32(tableEnd, crc32c(file, 0, tableEnd));
    assertEquals(decodeBlockTable(file).blocks[1]!.times!.max, block1.times!.min);
    await Deno.chmod(first!.path, 0o644);
    await Deno.writeFile(first!.path, file);
    const bad = await verifyStore(dir);
    assert(!bad.ok, "a narrowed time span must be caught");
    assertEquals(bad.problem!.place.segment, first!.name);
    assertMatch(bad.problem!.reason, /times span/);
  });
});
