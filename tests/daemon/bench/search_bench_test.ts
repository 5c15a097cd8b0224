/**
 * The search benchmark on a small store: it reports every line in the `vigil bench` shape, and
 * its searches really went through the web app (each left a SEARCH event of the UI in the log).
 * No timing is asserted: only that the figures exist and are consistent.
 */

import { benchSearch } from "../../../daemon/bench/search_bench.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { assert, assertEquals } from "../../support/assert.ts";

Deno.test({
  name:
    "benchSearch() times role + time, full-text and combined searches over HTTP on N stored events",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "vigil-search-bench-test-" });
    try {
      const lines = await benchSearch({ events: 3000, dir });
      const by = new Map(lines.map((l) => [l.bench, l]));
      assertEquals(
        [...by.keys()],
        [
          "search.fill",
          "search.index_build",
          "search.index_size",
          "search.role_time.p95",
          "search.text.p95",
          "search.text_role_time.p95",
          "search.rss",
        ],
      );
      assertEquals(by.get("search.fill")!.events, 3000);
      for (const kind of ["role_time", "text", "text_role_time"]) {
        const name = `search.${kind}.p95`;
        const l = by.get(name)!;
        assertEquals(l.unit, "ms");
        assert(l.value > 0 && l.reference !== undefined && l.reference.value >= 0, name);
        assertEquals(l.ratio, Math.round((l.value / Math.max(l.reference.value, 0.1)) * 100) / 100);
      }
      assert(by.get("search.rss")!.value >= by.get("search.rss")!.reference!.value);
      const size = by.get("search.index_size")!;
      assert(size.unit === "bytes/event" && size.value > 0 && size.reference!.value > 0);
      let searches = 0, benchEvents = 0;
      for await (const r of readLog(dir)) {
        if (r.event.source === "vigil-ui" && r.event.command === "SEARCH") searches++;
        else if (r.event.source !== "vigil-ui") benchEvents++;
      }
      assertEquals(benchEvents, 3000);
      assertEquals(searches, 3 * 205, "every timed and warm-up search was served by the app");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
