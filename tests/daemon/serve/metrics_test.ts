import { healthRoutes } from "../../../daemon/serve/http.ts";
import { renderMetrics } from "../../../daemon/serve/metrics.ts";
import type { IntegrityStatus } from "../../../daemon/serve/status.ts";
import { StatusBoard } from "../../../daemon/serve/status_board.ts";
import { SOURCE_PLUGINS } from "../../../plugins/mod.ts";
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

Deno.test("the store's checks count in the board's health, /healthz and /metrics", async () => {
  const now = 1_767_225_600_000;
  const board = new StatusBoard({
    version: "0.1.0",
    dataDir: ".",
    now: () => now,
    storeBytes: () => Promise.resolve(4096),
  });
  const verification = {
    ok: true,
    trigger: "start",
    startedAt: now - 2500,
    finishedAt: now - 500,
    events: 10_401,
    checkpoints: 3,
    problem: null,
  };
  let integrity: IntegrityStatus = {
    state: "intact",
    healthy: true,
    problem: null,
    startCheck: { ok: true, at: now - 3000, seconds: 0.012, segments: 5, problem: null },
    lastVerification: verification,
    verifying: null,
    nextAt: now + 86_400_000,
    runs: { intact: 1, damaged: 0 },
  };
  board.watchIntegrity(() => integrity);
  const app = healthRoutes(board, () => now);
  assertEquals(board.current().healthy, true);
  assertEquals((await app.request("/healthz")).status, 200);
  let text = renderMetrics(board.current(), now);
  assertMatch(text, /^vigil_store_intact 1$/m);
  assertMatch(text, /^vigil_store_verify_runs_total\{result="intact"\} 1$/m);
  assertMatch(text, /^vigil_store_verify_last_ok 1$/m);
  assertMatch(text, /^vigil_store_verify_last_duration_seconds 2\.000$/m);
  assertMatch(text, /^vigil_store_verify_last_timestamp_seconds 1767225599\.500$/m);

  const problem = "seg-00000000000000002600.vsegz offset 0: compressed segment block 0: corrupt";
  integrity = {
    ...integrity,
    state: "damaged",
    healthy: false,
    problem: `${problem} (found by the daily verification)`,
    lastVerification: { ...verification, trigger: "daily", ok: false, problem },
    runs: { intact: 1, damaged: 1 },
  };
  assertEquals(board.current().healthy, false);
  const r = await app.request("/healthz");
  assertEquals(r.status, 503);
  const body = await r.json();
  assertEquals([body.status, body.store.healthy], ["degraded", false]);
  assertEquals(body.store.integrity.state, "damaged");
  assertEquals(body.store.integrity.problem, `${problem} (found by the daily verification)`);
  assertEquals(body.store.integrity.last_verification.finished, "2025-12-31T23:59:59.500Z");
  assertEquals(body.store.integrity.next_verification, "2026-01-02T00:00:00.000Z");
  text = renderMetrics(board.current(), now);
  assertMatch(text, /^vigil_store_intact 0$/m);
  assertMatch(text, /^vigil_up 0$/m);
  assertMatch(text, /^vigil_store_verify_runs_total\{result="damaged"\} 1$/m);
  assertMatch(text, /^vigil_store_verify_last_ok 0$/m);
  for (const line of text.trimEnd().split("\n")) {
    assertMatch(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{[^\n]*\})? [-\d.e]+)$/);
  }
});

Deno.test("a source gauge's HELP is what the source plugins declare it to mean", () => {
  const board = new StatusBoard({
    version: "0.1.0",
    dataDir: ".",
    now: () => 0,
    storeBytes: () => Promise.resolve(0),
  });
  for (const plugin of SOURCE_PLUGINS) board.add(`a-${plugin.type}`, plugin.type, plugin.gauges);
  board.add("bare", "none");
  for (const plugin of SOURCE_PLUGINS) {
    for (const g of plugin.gauges) board.gauge(`a-${plugin.type}`, g.name, 1);
  }
  board.gauge("bare", "only_here", 1);
  const text = renderMetrics(board.current(), 0);
  for (const plugin of SOURCE_PLUGINS) {
    for (const g of plugin.gauges) {
      const help = new RegExp(`^# HELP vigil_source_${g.name} (.*)$`, "m").exec(text)?.[1];
      assert(help?.includes(g.help), `${g.name}: ${help}`);
    }
  }
  assertMatch(text, /^# HELP vigil_source_only_here Source gauge only_here\.$/m);
});

Deno.test("/metrics says where the daemon's memory goes: RSS, the main heap, buffers outside it", () => {
  const board = new StatusBoard({ version: "0.1.0", dataDir: "." });
  const memory = { rss: 200 << 20, heapTotal: 40 << 20, heapUsed: 30 << 20, external: 12 << 20 };
  const text = renderMetrics(board.current(), 0, memory);
  assertMatch(text, new RegExp(`^vigil_process_resident_bytes ${200 << 20}$`, "m"));
  assertMatch(text, new RegExp(`^vigil_process_heap_bytes\\{kind="used"\\} ${30 << 20}$`, "m"));
  assertMatch(text, new RegExp(`^vigil_process_heap_bytes\\{kind="total"\\} ${40 << 20}$`, "m"));
  assertMatch(text, new RegExp(`^vigil_process_external_bytes ${12 << 20}$`, "m"));
  // Without a figure given, the process's own.
  const rss = Number(
    /^vigil_process_resident_bytes (\d+)$/m.exec(renderMetrics(board.current(), 0))?.[1],
  );
  assert(rss > 0, "the daemon's own RSS");
});
