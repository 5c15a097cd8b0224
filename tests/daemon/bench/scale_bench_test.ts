import { benchScale } from "../../../daemon/bench/scale_bench.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

Deno.test("benchScale() measures fill, index, disk, serve, search and export on a small store", async () => {
  await withTempDir(async (dir) => {
    const lines = await benchScale({ events: 4000, dir });
    const names = lines.map((l) => l.bench);
    assertEquals(names, [
      "scale.fill_rate",
      "scale.index_build_rate",
      "scale.disk_segments",
      "scale.disk_merkle",
      "scale.disk_index",
      "scale.disk_total",
      "scale.serve_first_start",
      "scale.serve_start",
      "scale.serve_rss_after_start",
      "scale.serve_rss_under_intake",
      "scale.search_p95_role_day",
      "scale.search_p95_text",
      "scale.search_p95_text_role_day",
      "scale.serve_rss_while_searching",
      "scale.serve_rss_high_water",
      "scale.export_rate",
      "scale.export_rss_high_water",
    ]);
    for (const l of lines) {
      assert(Number.isFinite(l.value) && l.value > 0, `${l.bench} = ${l.value}`);
      if (l.reference) assert(l.reference.value > 0 && Number.isFinite(l.ratio), l.bench);
    }
    // A bundle of the middle tenth of 4,000 events was written and counted.
    const exported = lines.find((l) => l.bench === "scale.export_rate")!;
    assert(Number(exported.rows) >= 300 && Number(exported.rows) <= 500, `${exported.rows} rows`);
  });
});
