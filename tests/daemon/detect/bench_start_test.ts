import { benchEvents } from "../../../daemon/detect/bench.ts";
import { benchDetectStart } from "../../../daemon/detect/bench_start.ts";
import { defaultDetectConfig } from "../../../daemon/detect/config.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

Deno.test("benchDetectStart() measures a start from a snapshot behind the log against a full replay of it", async () => {
  await withTempDir(async (dir) => {
    const config = { ...defaultDetectConfig(), sensitive_objects: ["s2.*"] };
    const lines = await benchDetectStart({
      dir,
      config,
      events: benchEvents(6000),
      tail: benchEvents(700, 2),
    });
    assertEquals(lines.map((l) => [l.bench, l.unit]), [
      ["detect.start", "s"],
      ["detect.start_peak_rss", "MiB"],
    ]);
    const [time, rss] = lines as [typeof lines[0], typeof lines[0]];
    // The resume read only the tail; the reference read the same log from its first event.
    assertEquals([time.events, time.caught_up], [6700, 700]);
    assert((time.snapshot_bytes as number) > 0);
    for (const l of [time, rss]) {
      assert(l.value > 0 && l.reference!.value > 0, JSON.stringify(l));
      assertEquals(l.ratio, Number((l.value / l.reference!.value).toFixed(3)));
    }
  });
});
