import { renderMetrics } from "../../../daemon/serve/metrics.ts";
import { StatusBoard } from "../../../daemon/serve/status_board.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";

Deno.test("the status board counts per source and renders valid Prometheus text", async () => {
  let now = 1_000_000;
  const board = new StatusBoard({
    version: "0.1.0",
    dataDir: ".",
    now: () => now,
    storeBytes: () => Promise.resolve(4096),
  });
  const weird = 'ops "eu"\\west\nline';
  board.add("billing", "wal");
  board.add(weird, "pgaudit");
  board.running("billing");
  board.running(weird);
  const ev = (source: string, ts: number) => ({
    seq: 0,
    json: "x".repeat(100),
    event: { seq: 0, ingest_ts: ts, ts, source, kind: "system" as const },
  });
  board.durable([ev("billing", 990_000_000), ev("billing", 995_000_000), ev("other", 1)]);
  board.committed(0.004, 3);
  board.gauge("billing", "lag_bytes", 1234);
  board.failed(weird, new Error("connection refused"), "connect");
  board.backoff(weird);
  now += 10_000;
  await board.sample();

  const s = board.current();
  assertEquals(s.healthy, false);
  const billing = s.sources.find((x) => x.name === "billing")!;
  assertEquals([billing.events, billing.bytes, billing.lastEventTs], [2, 200, 995_000_000]);
  assertEquals(board.series("billing", "hour").map((p) => [p.eventsPerSecond, p.lagBytes]), [
    [0.2, 1234],
  ]);
  const text = renderMetrics(s, now);
  assertMatch(text, /^vigil_source_events_total\{source="billing"\} 2$/m);
  assertMatch(text, /^vigil_source_lag_bytes\{source="billing"\} 1234$/m);
  assertMatch(text, /^vigil_source_last_event_age_seconds\{source="billing"\} 15\.000$/m);
  // The label value is escaped: one line per sample, quotes and backslashes escaped.
  assert(text.includes('vigil_source_up{source="ops \\"eu\\"\\\\west\\nline"} 0'), text);
  for (const line of text.trimEnd().split("\n")) {
    assertMatch(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{[^\n]*\})? [-\d.e]+)$/);
  }
});
