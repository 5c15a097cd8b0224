import { HEADER_SIZE } from "../../../daemon/store/frame.ts";
import { listSegments, loadSegment } from "../../../daemon/store/segment_file.ts";
import { Store } from "../../../daemon/store/store.ts";
import { storePaths } from "../../../daemon/store/store_open.ts";
import { checkChunk, splitChunks } from "../../../daemon/store/verify_chunk.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

Deno.test("splitChunks() + checkChunk() give the same leaves and chain as one chunk, for any split", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, { checkpointIntervalMs: 0, hashWorker: false });
    for (let b = 0; b < 10; b++) {
      await store.append({
        source: "s",
        events: [0, 1, 2, 3].map((i) => testEvent(b * 4 + i)),
        position: `${b}`,
      });
    }
    await store.close();
    const [entry] = await listSegments(storePaths(dir).segments);
    const seg = await loadSegment(entry!);
    const base = {
      start: HEADER_SIZE,
      end: seg.bytes.length,
      firstSeq: 0,
      prevChain: seg.header.prevChain,
    };
    const whole = checkChunk({ ...base, buf: seg.bytes, chainsAt: [] });
    assertEquals([whole.count, whole.problem], [40, null]);
    for (const parts of [1, 2, 3, 7, 50]) {
      const runs = splitChunks(seg.bytes, { ...base, parts });
      // Runs end on frame boundaries, so 50 parts of 50 unequal frames give somewhat fewer runs.
      assert(runs.length <= parts && runs.length >= Math.min(parts, 20), `parts ${parts}`);
      const results = runs.map((r) => checkChunk({ ...r, buf: seg.bytes, chainsAt: [] }));
      const leaves = results.flatMap((r) => [...r.leaves]);
      assertEquals(leaves, [...whole.leaves]);
      assertEquals(results.at(-1)!.endChain, whole.endChain);
      for (const r of results) assertEquals(r.problem, null);
    }
  });
});
