/**
 * Compressing a sealed segment file a window and a block at a time gives the bytes that
 * compressing it whole gives, for any window size (frames cut off by a window's end are read
 * again with what follows), for a segment with a damaged frame too; and the result reads back.
 */

import { compressSealedSegment } from "../../../daemon/store/compress_file.ts";
import { compressedPath, decompressSegment } from "../../../daemon/store/segment_compress.ts";
import { listSegments } from "../../../daemon/store/segment_file.ts";
import { Store } from "../../../daemon/store/store.ts";
import { storePaths } from "../../../daemon/store/store_open.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { testEvent, withTempDir } from "../../support/store.ts";
import { compressSegmentBytes } from "../../support/compress_whole.ts";

/** The sealed, uncompressed segments of a store of `n` events of varied sizes. */
async function sealedSegments(
  dir: string,
  n: number,
): Promise<{ path: string; firstSeq: number }[]> {
  const store = await Store.open(dir, {
    checkpointIntervalMs: 0,
    hashWorker: false,
    compressSealed: false,
    maxSegmentBytes: 3 * 1024 * 1024,
  });
  for (let i = 0; i < n; i += 100) {
    const events = Array.from(
      { length: 100 },
      (_, k) => testEvent(i + k, { statement: "s".repeat(((i + k) * 37) % 3000) }),
    );
    await store.append({ source: "s", events });
  }
  await store.close();
  const segments = await listSegments(storePaths(dir).segments);
  return segments.slice(0, -1).filter((s) => !s.compressed);
}

Deno.test("a sealed segment compressed a window at a time is the file compressing it whole gives", async () => {
  await withTempDir(async (dir) => {
    const segments = await sealedSegments(`${dir}/data`, 6000);
    assert(segments.length >= 2, `${segments.length} sealed segments`);
    for (const [i, seg] of segments.entries()) {
      const raw = await Deno.readFile(seg.path);
      const whole = compressSegmentBytes(raw, seg.firstSeq);
      // Windows smaller than a frame, of odd sizes, and the default.
      for (const window of [700, 65_537, undefined]) {
        const copy = `${dir}/seg-${i}-${window}.vseg`;
        await Deno.writeFile(copy, raw);
        const saved = await compressSealedSegment(copy, seg.firstSeq, window);
        const packed = await Deno.readFile(compressedPath(copy));
        assertEquals(packed, whole, `segment ${i}, window ${window}`);
        assertEquals(saved, raw.length - whole.length);
        assertEquals(decompressSegment(packed), raw);
        assert(!(await exists(copy)), "the original goes once its twin is checked");
      }
    }
  });
});

Deno.test("a sealed segment with a damaged frame compresses as compressing it whole does", async () => {
  await withTempDir(async (dir) => {
    const [seg] = await sealedSegments(`${dir}/data`, 3000);
    const raw = await Deno.readFile(seg!.path);
    // A byte in the middle of the segment: a frame's CRC no longer matches, planning stops there.
    raw[Math.floor(raw.length / 2)]! ^= 0xff;
    const whole = compressSegmentBytes(raw, seg!.firstSeq);
    for (const window of [4096, undefined]) {
      const copy = `${dir}/damaged-${window}.vseg`;
      await Deno.writeFile(copy, raw);
      await compressSealedSegment(copy, seg!.firstSeq, window);
      assertEquals(await Deno.readFile(compressedPath(copy)), whole, `window ${window}`);
    }
  });
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
