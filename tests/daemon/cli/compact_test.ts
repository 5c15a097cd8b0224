import { readLog } from "../../../daemon/store/log_reader.ts";
import { listSegments } from "../../../daemon/store/segment_file.ts";
import { Store } from "../../../daemon/store/store.ts";
import { storePaths } from "../../../daemon/store/store_open.ts";
import { verifyStore } from "../../../daemon/store/verify.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

Deno.test("vigil compact compresses the sealed segments a writer left uncompressed, and nothing else changes", async () => {
  await withTempDir(async (dir) => {
    // Segments sealed without compression, as a data format 1 writer left them.
    const store = await Store.open(dir, {
      checkpointIntervalMs: 0,
      maxSegmentBytes: 32 * 1024,
      compressSealed: false,
    });
    for (let i = 0; i < 1_500; i += 100) {
      const events = Array.from({ length: 100 }, (_, k) => testEvent(i + k));
      await store.append({ source: "s", events, position: `p${i + 100}` });
      if (i === 700) await store.checkpoint();
    }
    await store.close();
    const before = (await Array.fromAsync(readLog(dir))).map((r) => r.json);
    const segs = await listSegments(storePaths(dir).segments);
    assert(segs.length > 3 && segs.every((s) => !s.compressed));

    const r = await runVigil(["compact", "--data", dir]);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(
      r.stdout,
      new RegExp(`^compressed ${segs.length - 1} sealed segments, \\d+ bytes saved`),
    );
    const after = await listSegments(storePaths(dir).segments);
    assertEquals(after.map((s) => s.compressed === true), segs.map((_, i) => i < segs.length - 1));
    assertEquals((await Array.fromAsync(readLog(dir))).map((r) => r.json), before);
    const report = await verifyStore(dir);
    assert(report.ok, report.problem?.text);
    // A second run finds nothing to do.
    assertMatch(
      (await runVigil(["compact", "--data", dir])).stdout,
      /^compressed 0 sealed segments/,
    );
  });
});
