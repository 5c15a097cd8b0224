/**
 * SeqReader against real stores: it returns what `readLog` does for any seqs, follows a segment
 * that grows, leaves out what is not a whole group commit, stays within its cache budget, and
 * names the place of damage instead of returning altered bytes.
 */

import { readLog } from "../../../daemon/store/log_reader.ts";
import { crc32c } from "../../../daemon/store/crc32c.ts";
import { StoreDamageError } from "../../../daemon/store/errors.ts";
import { compressSealedSegment } from "../../../daemon/store/compress_file.ts";
import { decodeBlockTable } from "../../../daemon/store/segment_compress.ts";
import { listSegments } from "../../../daemon/store/segment_file.ts";
import { SeqReader } from "../../../daemon/store/seq_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { prng } from "../../support/random.ts";
import { patchFile, segmentPaths, testEvent, withTempDir } from "../../support/store.ts";

/**
 * A store of `n` events in segments of about `segmentKiB` (several blocks of the sparse map
 * each at the default), in batches of varied size.
 */
async function fill(dir: string, n: number, segmentKiB = 48): Promise<void> {
  const store = await Store.open(dir, {
    checkpointIntervalMs: 0,
    maxSegmentBytes: segmentKiB * 1024,
    hashWorker: false,
  });
  try {
    for (let at = 0; at < n;) {
      const size = Math.min(n - at, 1 + (at % 97));
      const events = Array.from({ length: size }, (_, k) => testEvent(at + k));
      await store.append({ source: "test", events, position: `pos-${at}` });
      at += size;
    }
  } finally {
    await store.close();
  }
}

async function logJson(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const r of readLog(dir)) out.push(r.json);
  return out;
}

Deno.test("SeqReader.read() and scan() return what readLog() does, across segments", async () => {
  await withTempDir(async (dir) => {
    await fill(dir, 3000);
    const all = await logJson(dir);
    assert((await segmentPaths(dir)).length > 10, "many segments");
    const reader = await SeqReader.open(dir);
    assertEquals([await reader.start(), await reader.end()], [0, 3000]);
    const rand = prng(7);
    for (let round = 0; round < 20; round++) {
      const seqs = Array.from(
        { length: 1 + Math.floor(rand() * 80) },
        () => Math.floor(rand() * 3100) - 50,
      );
      const got = await reader.read(seqs);
      const expected = [...new Set(seqs)].filter((s) => s >= 0 && s < 3000).sort((a, b) => a - b);
      assertEquals(got.map((r) => r.seq), expected);
      for (const r of got) {
        assertEquals(r.json, all[r.seq]);
        assertEquals(r.event, JSON.parse(all[r.seq]!));
      }
    }
    const asc: string[] = [];
    for await (const chunk of reader.scan(0, 3000, { chunk: 100 })) {
      assert(chunk.length <= 100);
      asc.push(...chunk.map((r) => r.json));
    }
    assertEquals(asc, all);
    const desc: number[] = [];
    for await (const chunk of reader.scan(250, 2990, { order: "desc", chunk: 64 })) {
      desc.push(...chunk.map((r) => r.seq));
    }
    assertEquals(desc, Array.from({ length: 2740 }, (_, i) => 2989 - i));
    assertEquals(await reader.get(3000), null);
    assertEquals((await reader.get(2999))?.json, all[2999]);
  });
});

Deno.test("SeqReader follows the newest segment as a writer appends to it", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, { checkpointIntervalMs: 0, hashWorker: false });
    try {
      await store.append({ source: "test", events: [testEvent(0), testEvent(1)] });
      const reader = await SeqReader.open(dir);
      assertEquals(await reader.end(), 2);
      assertEquals(await reader.get(2), null);
      for (let i = 2; i < 300; i += 3) {
        await store.append({
          source: "test",
          events: [testEvent(i), testEvent(i + 1), testEvent(i + 2)],
        });
        assertEquals((await reader.get(i + 2))?.event.statement, testEvent(i + 2).statement);
      }
      assertEquals(await reader.end(), store.size);
      assertEquals((await reader.read([0, 150, 299])).map((r) => r.seq), [0, 150, 299]);
    } finally {
      await store.close();
    }
  });
});

Deno.test("SeqReader leaves out whole records after the last commit frame, as readLog() does", async () => {
  await withTempDir(async (dir) => {
    await fill(dir, 40);
    const paths = await segmentPaths(dir);
    const last = paths[paths.length - 1]!;
    const bytes = await Deno.readFile(last);
    // A copy of the segment's last event frame appended after its last commit: a group whose
    // commit record a crash cut off.
    const reader = await SeqReader.open(dir);
    const before = await reader.end();
    const rec = (await reader.get(before - 1))!;
    const body = new TextEncoder().encode(rec.json);
    const frameLen = 8 + 33 + body.length;
    let at = -1;
    for (let i = bytes.length - frameLen; i >= 0; i--) {
      if (new TextDecoder().decode(bytes.subarray(i + 41, i + frameLen)) === rec.json) {
        at = i;
        break;
      }
    }
    assert(at > 0, "found the event's frame");
    await patchFile(last, bytes.length, bytes.slice(at, at + frameLen));
    const fresh = await SeqReader.open(dir);
    assertEquals(await fresh.end(), before);
    assertEquals(await fresh.get(before), null);
    assertEquals((await logJson(dir)).length, before);
  });
});

Deno.test("SeqReader keeps its segment maps within cacheBytes and still reads every event", async () => {
  await withTempDir(async (dir) => {
    await fill(dir, 2000, 16);
    const all = await logJson(dir);
    const reader = await SeqReader.open(dir, { cacheBytes: 1 });
    let largest = 0;
    for (let s = 0; s < 2000; s += 37) {
      assertEquals((await reader.get(s))?.json, all[s]);
      largest = Math.max(largest, reader.cachedBytes);
    }
    assert(largest <= 512, `one small map at a time, held ${largest} bytes`);
    const big = await SeqReader.open(dir);
    await big.read(Array.from({ length: 2000 }, (_, i) => i));
    assert(big.cachedBytes > largest * 10, "without a tight budget every map stays");
  });
});

Deno.test("SeqReader names the segment and seq of a flipped byte, and reads other events", async () => {
  await withTempDir(async (dir) => {
    await fill(dir, 200);
    const [first] = await segmentPaths(dir);
    const bytes = await Deno.readFile(first!);
    const at = new TextDecoder().decode(bytes).indexOf("SELECT 3 FROM");
    await patchFile(first!, at + 7, new TextEncoder().encode("9"));
    const reader = await SeqReader.open(dir);
    const err = await assertRejects(() => reader.get(3), StoreDamageError);
    assertEquals(err.place.seq, 3);
    assertEquals(err.place.segment, "seg-00000000000000000000.vseg");
    assert(/CRC-32C mismatch/.test(err.message), err.message);
    assertEquals((await reader.get(150))?.seq, 150);
  });
});

Deno.test("SeqReader names the first damaged event of a read, whatever kind of damage comes later", async () => {
  await withTempDir(async (dir) => {
    await fill(dir, 200);
    const [first] = await segmentPaths(dir);
    const bytes = await Deno.readFile(first!);
    const text = new TextDecoder("latin1").decode(bytes); // a character a byte
    // Seq 3: a body that is not JSON under a CRC that holds; seq 5: a flipped byte, a bad CRC.
    const body = text.indexOf('{"seq":3,');
    const p = body - 33, off = p - 8;
    const view = new DataView(bytes.buffer);
    const len = view.getUint32(off);
    bytes[p + len - 1] = "x".charCodeAt(0);
    view.setUint32(off + 4, crc32c(bytes, p, p + len));
    bytes[text.indexOf("SELECT 5 FROM") + 7] = "9".charCodeAt(0);
    await Deno.writeFile(first!, bytes);
    const reader = await SeqReader.open(dir);
    const err = await assertRejects(() => reader.read([1, 2, 3, 4, 5, 6]), StoreDamageError);
    assertEquals(err.place.seq, 3);
    assert(/undecodable event/.test(err.message), err.message);
    const crc = await assertRejects(() => reader.read([4, 5, 6]), StoreDamageError);
    assertEquals(crc.place.seq, 5);
    assert(/CRC-32C mismatch/.test(crc.message), crc.message);
    assertEquals((await reader.read([4, 6])).map((r) => r.seq), [4, 6]);
  });
});

Deno.test("SeqReader reads segments deleted by retention as missing seqs", async () => {
  await withTempDir(async (dir) => {
    await fill(dir, 1000);
    const reader = await SeqReader.open(dir);
    assertEquals((await reader.get(10))?.seq, 10);
    const paths = await segmentPaths(dir);
    await Deno.remove(paths[0]!);
    await Deno.remove(paths[1]!);
    const start = Number(/seg-(\d+)/.exec(paths[2]!)![1]);
    assertEquals(await reader.get(10), null, "a cached map of a deleted segment is not used");
    assertEquals(await reader.start(), start);
    const seqs: number[] = [];
    for await (const chunk of reader.scan(0, 1000)) seqs.push(...chunk.map((r) => r.seq));
    assertEquals(seqs, Array.from({ length: 1000 - start }, (_, i) => start + i));
    assertEquals((await reader.read([0, start - 1, start, 999])).map((r) => r.seq), [start, 999]);
  });
});

Deno.test("SeqReader reads compressed sealed segments, even one compressed after it was mapped", async () => {
  await withTempDir(async (dir) => {
    await fill(dir, 16_000, 1100);
    const all = await logJson(dir);
    const reader = await SeqReader.open(dir);
    const segments = await listSegments(`${dir}/segments`);
    assert(segments.length >= 3, "sealed segments to compress");
    assertEquals((await reader.get(5))?.json, all[5], "mapped while plain");
    for (const s of segments.slice(0, -1)) await compressSealedSegment(s.path, s.firstSeq);
    const packed = await listSegments(`${dir}/segments`);
    assert(packed[0]!.compressed, "stored compressed");
    const table = decodeBlockTable(await Deno.readFile(packed[0]!.path));
    assert(table.blocks.length >= 2, "in more than one block");
    assertEquals(await logJson(dir), all);
    const rand = prng(11);
    for (let round = 0; round < 10; round++) {
      const seqs = Array.from({ length: 60 }, () => Math.floor(rand() * 16_000));
      for (const r of await reader.read(seqs)) assertEquals(r.json, all[r.seq]);
      assertEquals((await reader.read(seqs)).length, new Set(seqs).size);
    }
    // Runs shorter than a block, one after the other and across segments, as the index's Worker
    // reads: a block taken again from the last one decompressed gives the same events.
    const runs: string[] = [];
    for (let at = 0; at < 16_000; at += 37) {
      runs.push(...(await reader.readRange(at, Math.min(16_000, at + 37))).map((r) => r.json));
      if (at % 3700 === 0) assertEquals((await reader.get(15_999))?.json, all[15_999]);
    }
    assertEquals(runs, all);
    const fresh = await SeqReader.open(dir);
    assertEquals([await fresh.start(), await fresh.end()], [0, 16_000]);
    const desc: string[] = [];
    for await (const chunk of fresh.scan(0, 16_000, { order: "desc", chunk: 700 })) {
      desc.push(...chunk.map((r) => r.json));
    }
    assertEquals(desc, [...all].reverse());
  });
});
