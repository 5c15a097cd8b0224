/**
 * `scanLog` reads runs of a few MiB, never a whole segment: whatever the run size — smaller than
 * one record, cutting records anywhere in a plain segment, a block or several of a compressed
 * one — it yields every seq asked for once, in order, with the bytes and the chain before the
 * first that the log holds, and a range starting inside a compressed segment starts at its block.
 */

import { scanLog } from "../../../daemon/export/log_scan.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { compressSealedSegment } from "../../../daemon/store/compress_file.ts";
import { listSegments } from "../../../daemon/store/segment_file.ts";
import { Store } from "../../../daemon/store/store.ts";
import { storePaths } from "../../../daemon/store/store_open.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";
import { bundleEvent } from "./_bundle_store.ts";

const decoder = new TextDecoder();

/** A store of `n` events with a text of ~`pad` bytes each, in segments of `segBytes`. */
async function store(dir: string, n: number, opts: { pad: number; segBytes: number }) {
  const s = await Store.open(dir, {
    checkpointIntervalMs: 0,
    hashWorker: false,
    maxSegmentBytes: opts.segBytes,
  });
  for (let i = 0; i < n; i += 20) {
    const events = Array.from({ length: Math.min(20, n - i) }, (_, k) => ({
      ...bundleEvent(i + k),
      statement: "x".repeat((i + k) % 3 === 0 ? opts.pad * 3 : opts.pad),
    }));
    await s.append({ source: "s", events });
  }
  await s.checkpoint();
  await s.close();
}

/** What the scan yields: each seq's canonical JSON, and the chain before the first. */
async function scanned(dir: string, from: number, to: number, runBytes?: number) {
  const out: { seq: number; json: string }[] = [];
  let before: Uint8Array | undefined;
  let runs = 0;
  for await (
    const s of scanLog(dir, { fromSeq: from, toSeq: to, ...(runBytes ? { runBytes } : {}) })
  ) {
    runs++;
    before ??= s.prevChain.slice();
    const dv = new DataView(s.buf.buffer, s.buf.byteOffset, s.buf.byteLength);
    for (let i = 0; i < s.count; i++) {
      const f = s.frames[i]!;
      out.push({
        seq: s.firstSeq + i,
        json: decoder.decode(s.buf.subarray(f + 41, f + 8 + dv.getUint32(f))),
      });
    }
  }
  return { out, before, runs };
}

async function expected(dir: string, from: number, to: number) {
  const all = await Array.fromAsync(readLog(dir, { toSeq: to }));
  return {
    out: all.filter((r) => r.seq >= from).map((r) => ({ seq: r.seq, json: r.json })),
    before: all[from - 1]?.chain,
  };
}

Deno.test("scanLog() cuts plain segments into runs anywhere, records larger than a run included", async () => {
  await withTempDir(async (dir) => {
    await store(dir, 400, { pad: 200, segBytes: 64 * 1024 });
    assert((await listSegments(storePaths(dir).segments)).length > 2);
    const want = await expected(dir, 37, 361);
    for (const runBytes of [64, 500, 3000, 20_000, undefined]) {
      const got = await scanned(dir, 37, 361, runBytes);
      assertEquals(got.out, want.out, `runBytes ${runBytes}`);
      assertEquals(got.before, want.before, `runBytes ${runBytes}`);
      if (runBytes === 500) assert(got.runs > 100, `${got.runs} runs`);
    }
  });
});

Deno.test("scanLog() reads compressed segments a few blocks at a time, from the block a range starts in", async () => {
  await withTempDir(async (dir) => {
    // Two segments of several 1 MiB blocks each, and the newest one plain.
    await store(dir, 9_000, { pad: 300, segBytes: 3 * 1024 * 1024 });
    const segments = await listSegments(storePaths(dir).segments);
    assert(segments.length >= 3, `${segments.length} segments`);
    for (const s of segments.slice(0, -1)) await compressSealedSegment(s.path, s.firstSeq);
    const packed = await listSegments(storePaths(dir).segments);
    assertEquals(packed.map((s) => s.compressed ?? false), [
      ...segments.slice(0, -1).map(() => true),
      false,
    ]);
    const end = (await Array.fromAsync(readLog(dir))).length;
    for (
      const [from, to] of [[0, end], [1, 2], [4_321, end - 5], [
        segments[1]!.firstSeq,
        segments[1]!.firstSeq + 1,
      ]]
    ) {
      const want = await expected(dir, from!, to!);
      for (const runBytes of [64, 1_500_000, undefined]) {
        const got = await scanned(dir, from!, to!, runBytes);
        assertEquals(got.out.length, want.out.length, `${from}-${to} runBytes ${runBytes}`);
        assertEquals(got.out, want.out, `${from}-${to} runBytes ${runBytes}`);
        if (from! > 0) assertEquals(got.before, want.before, `${from}-${to} runBytes ${runBytes}`);
      }
    }
  });
});

Deno.test("scanLog() frees its buffers when the scan ends, or is left early", async () => {
  await withTempDir(async (dir) => {
    await store(dir, 2_000, { pad: 300, segBytes: 256 * 1024 });
    const segments = await listSegments(storePaths(dir).segments);
    assert(segments.length >= 3, `${segments.length} segments`);
    await compressSealedSegment(segments[0]!.path, segments[0]!.firstSeq);
    for (const [to, leave] of [[2_000, false], [1_500, true], [100, false]] as const) {
      let last: Uint8Array | undefined;
      for await (const s of scanLog(dir, { fromSeq: 10, toSeq: to })) {
        last = s.buf;
        assert(s.buf.byteLength > 0, "a run's bytes are there while it is read");
        if (leave && s.firstSeq + s.count > 1_000) break;
      }
      // Its memory went back when the scan ended, not when the collector ran.
      assertEquals(last?.buffer.byteLength, 0, `to ${to}${leave ? ", left early" : ""}`);
    }
  });
});
