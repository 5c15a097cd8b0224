import { benchDetect, benchEvents } from "../../../daemon/detect/bench.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

Deno.test("benchEvents() is deterministic, in event-time order, and spans a fortnight", () => {
  const a = benchEvents(5000);
  assertEquals(a, benchEvents(5000));
  assert(a.every((e, i) => i === 0 || e.ts >= a[i - 1]!.ts), "not in time order");
  const days = (a.at(-1)!.ts - a[0]!.ts) / 86_400_000_000;
  assert(days > 12 && days <= 14, `spans ${days} days`);
  assert(new Set(a.map((e) => e.role)).size === 12);
});

Deno.test("benchDetect() reports events/s against store append of the same events", async () => {
  await withTempDir(async (dir) => {
    const [r, ...rest] = await benchDetect({ events: 30_000, dir, start: false });
    assertEquals(rest, []);
    assert(r, "no result");
    assertEquals(r.bench, "detect.events");
    assertEquals(r.unit, "events/s");
    assertEquals(r.events, 30_000);
    assert(r.value > 0 && r.reference!.value > 0);
    assertEquals(r.ratio, Number((r.value / r.reference!.value).toFixed(3)));
    // Windows closed and were scored: the models had work to do.
    assert((r.windows as number) > 1000, `only ${r.windows} windows`);
  });
});
