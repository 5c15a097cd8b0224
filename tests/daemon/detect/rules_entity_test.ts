import { defaultDetectConfig, type DetectConfig } from "../../../daemon/detect/config.ts";
import { DetectEngine } from "../../../daemon/detect/engine.ts";
import type { AuditEvent, NewEvent } from "../../../daemon/event/model.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";

const H = 3_600_000_000;
const T0 = Date.UTC(2026, 0, 5) * 1000;
const at = (day: number, hour: number, min = 0) => T0 + day * 24 * H + hour * H + min * 60e6;

function read(ts: number, role: string, more: Partial<NewEvent> = {}): NewEvent {
  return {
    ts,
    source: "log",
    kind: "session",
    role,
    db: "shop",
    client_addr: "10.0.0.1",
    application_name: "shop-api",
    class: "READ",
    command: "SELECT",
    object: "public.orders",
    ...more,
  };
}

/**
 * Ten days of a pooler at 10.0.0.1 carrying two roles of one application, 30 statements an hour
 * each from 09:00 to 17:00, and an analyst on her own desk.
 */
function history(): NewEvent[] {
  const out: NewEvent[] = [];
  for (let d = 0; d < 10; d++) {
    for (let h = 9; h < 17; h++) {
      for (let i = 0; i < 30; i++) {
        out.push(read(at(d, h) + i * 60e6, "app_rw"));
        out.push(read(at(d, h) + i * 60e6 + 1, "app_ro"));
      }
      out.push(read(at(d, h, 30), "carol", { client_addr: "10.0.3.21", application_name: "psql" }));
    }
  }
  return out;
}

function run(events: NewEvent[], cfg: Partial<DetectConfig> = {}) {
  const engine = new DetectEngine({ ...defaultDetectConfig(), disabled: ["model"], ...cfg });
  const sorted = events.map((e, i) => ({ e, i })).sort((a, b) => a.e.ts - b.e.ts || a.i - b.i);
  engine.feed(
    sorted.map(({ e }, seq) => ({ seq, event: { ...e, seq, ingest_ts: 0 } as AuditEvent })),
  );
  engine.flush();
  return engine.list().filter((a) => a.rule === "shared_client_addr" || a.rule === "app_surge");
}

Deno.test("address and application rules stay quiet on ordinary traffic, however busy", () => {
  assertEquals(run(history()), []);
});

Deno.test("shared_client_addr fires for more roles on an address than ever, not for its usual two", () => {
  const desk = { client_addr: "10.0.3.21", application_name: "psql" };
  const extra = [
    read(at(10, 11), "carol", desk),
    read(at(10, 11, 1), "app_ro", desk),
    read(at(10, 11, 2), "dave", {
      ...desk,
      kind: "auth",
      command: "LOGIN FAILED",
      sqlstate: "28P01",
    }),
  ];
  const alerts = run([...history(), ...extra]);
  assertEquals(alerts.map((a) => [a.rule, a.client_addr, a.severity]), [
    ["shared_client_addr", "10.0.3.21", "high"],
  ]);
  assertMatch(alerts[0]!.reason, /10\.0\.3\.21 used by 3 roles .*app_ro, carol, dave.*maximum 1/);
  // On behalf of its most active role; a tie goes to the first name.
  assertEquals(alerts[0]!.role, "app_ro");
  // The pooler's two roles in every window are its normal: no alert there.
  assert(!alerts.some((a) => a.client_addr === "10.0.0.1"));
  // Raised threshold: three roles are not enough.
  assertEquals(run([...history(), ...extra], { shared_addr_roles: 4 }), []);
});

Deno.test("app_surge fires for a new application's flood and for an old one far over its usual", () => {
  const flood = Array.from(
    { length: 220 },
    (_, i) => read(at(10, 14) + i * 10e6, "app_rw", { application_name: "dbsync" }),
  );
  const surge = Array.from(
    { length: 200 },
    (_, i) =>
      read(at(11, 3) + i * 10e6, "carol", { client_addr: "10.0.3.21", application_name: "psql" }),
  );
  const alerts = run([...history(), ...flood, ...surge]);
  assertEquals(alerts.map((a) => [a.rule, a.role, a.db, a.severity, a.score]), [
    ["app_surge", "app_rw", "shop", "high", 220],
    ["app_surge", "carol", "shop", "medium", 200],
  ]);
  assertMatch(alerts[0]!.reason, /"dbsync" on database shop: 220 statements.*never seen/);
  assertMatch(alerts[1]!.reason, /"psql" on database shop: 200 statements.*previous maximum 1 /);
  // In the first days of watching a site every application is new: nothing fires then.
  const early = flood.map((e) => ({ ...e, ts: e.ts - 9 * 24 * H }));
  assertEquals(run([...history(), ...early]), []);
});
