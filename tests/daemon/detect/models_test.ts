import { defaultDetectConfig, type DetectConfig } from "../../../daemon/detect/config.ts";
import { DetectEngine } from "../../../daemon/detect/engine.ts";
import type { AuditEvent, NewEvent } from "../../../daemon/event/model.ts";
import { assert, assertEquals } from "../../support/assert.ts";

const H = 3_600_000_000;
const T0 = Date.UTC(2026, 0, 5) * 1000;

/** Days of hourly work 9–17 by `role` on a few report tables. */
function work(role: string, days: number, objects: string[]): NewEvent[] {
  const out: NewEvent[] = [];
  for (let d = 0; d < days; d++) {
    for (let h = 9; h < 17; h++) {
      for (let i = 0; i < 6; i++) {
        out.push({
          ts: T0 + d * 24 * H + h * H + i * 7 * 60e6,
          source: "log",
          kind: "session",
          role,
          client_addr: "10.0.3.1",
          class: "READ",
          command: "SELECT",
          object: objects[(d + h + i) % objects.length]!,
        });
      }
    }
  }
  return out;
}

function run(events: NewEvent[], cfg: Partial<DetectConfig>) {
  const engine = new DetectEngine({ ...defaultDetectConfig(), ...cfg });
  const sorted = events.map((e, i) => ({ e, i })).sort((a, b) => a.e.ts - b.e.ts || a.i - b.i);
  engine.feed(
    sorted.map(({ e }, seq) => ({ seq, event: { ...e, seq, ingest_ts: 0 } as AuditEvent })),
  );
  engine.flush();
  const out = engine.list();
  engine.alerts.close();
  return out;
}

Deno.test("a young role is scored against its peer group's windows, named in the reason", () => {
  const reports = ["report.a", "report.b", "report.c"];
  // A new analyst's first day: a sweep of forty tables in one hour.
  const sweep: NewEvent[] = Array.from({ length: 40 }, (_, i) => ({
    ts: T0 + 12 * 24 * H + 10 * H + i * 60e6,
    source: "log",
    kind: "session",
    role: "dan",
    client_addr: "10.0.3.9",
    class: "READ",
    command: "SELECT",
    object: `finance.t${i}`,
  }));
  const events = [...work("bob", 12, reports), ...work("carol", 12, reports), ...sweep];
  const cfg = {
    peer_groups: { analysts: ["bob", "carol", "dan"] },
    disabled: ["bulk_read", "exfiltration"],
  };
  const alerts = run(events, cfg).filter((a) => a.role === "dan" && a.rule.startsWith("model:"));
  assert(alerts.length >= 1, "the models missed the sweep");
  for (const a of alerts) {
    assert(a.reason.includes("against its peer group analysts"), a.reason);
    assert(a.reason.includes("distinct_objects 40"), a.reason);
  }
  // The same sweep by a role in no group is scored against everyone.
  const all = run(events, { disabled: cfg.disabled }).filter((a) => a.role === "dan");
  assert(all.some((a) => /against its peer group:/.test(a.reason)), JSON.stringify(all));
  // The analysts' own ordinary days raise nothing.
  assertEquals(run(events, cfg).filter((a) => a.role !== "dan"), []);
});
