import { defaultDetectConfig } from "../../../daemon/detect/config.ts";
import type { EventFacts } from "../../../daemon/detect/detector.ts";
import type { EntityWindow } from "../../../daemon/detect/entity_window.ts";
import { FeatureExtractor, type FeatureSink } from "../../../daemon/detect/features.ts";
import { FEATURE_NAMES, type FeatureWindow } from "../../../daemon/detect/window.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { assert, assertEquals } from "../../support/assert.ts";

const H = 3_600_000_000;
const T0 = Date.UTC(2026, 0, 5, 10) * 1000;

function recorder() {
  const windows: { w: FeatureWindow; v: Record<string, number> }[] = [];
  const facts: EventFacts[] = [];
  const entities: { w: EntityWindow; before: { windows: number; maxRoles: number } }[] = [];
  const sink: FeatureSink = {
    entity: (w, p) =>
      void entities.push({ w, before: { windows: p.windows, maxRoles: p.maxRoles } }),
    event: (_e, _s, f) => void facts.push(f),
    window: (w, v) =>
      void windows.push({
        w,
        v: Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, Math.round(v[i]! * 1000) / 1000])),
      }),
  };
  return { windows, facts, entities, sink };
}

function ev(ts: number, more: Partial<AuditEvent>): AuditEvent {
  return { seq: 0, ts, ingest_ts: 0, source: "log", kind: "session", role: "bob", ...more };
}

Deno.test("FeatureExtractor counts a role's window and closes it on event time after the lateness", () => {
  const x = new FeatureExtractor(defaultDetectConfig(), (o) => o.startsWith("hr."));
  const r = recorder();
  const read = (ts: number, object: string, more: Partial<AuditEvent> = {}) =>
    ev(ts, { class: "READ", command: "SELECT", object, client_addr: "10.0.0.1", ...more });
  const events = [
    read(T0, "public.a", { application_name: "psql", db: "shop" }),
    read(T0 + 60e6, "public.a"),
    read(T0 + 120e6, "hr.pay", { client_addr: "10.0.0.2", application_name: "excel" }),
    ev(T0 + 180e6, { class: "DDL", command: "DROP TABLE", object: "public.a" }),
    ev(T0 + 240e6, { kind: "auth", sqlstate: "28P01", client_addr: "10.0.0.3" }),
    ev(T0 + 300e6, { class: "WRITE", command: "UPDATE", object: "public.b", sqlstate: "23505" }),
  ];
  events.forEach((e, i) => x.add(i, e, r.sink));
  // Within the lateness after the window's end, it stays open for late events.
  x.add(6, read(T0 + H + 4 * 60e6, "public.a", { role: "carol" }), r.sink);
  x.add(7, read(T0 + 10 * 60e6, "public.c"), r.sink);
  assertEquals(r.windows.length, 0);
  x.add(8, read(T0 + H + 5 * 60e6, "public.a", { role: "carol" }), r.sink);
  assertEquals(r.windows.length, 1);
  const { w, v } = r.windows[0]!;
  assertEquals([w.role, w.start, w.end], ["bob", T0, T0 + H]);
  assertEquals(w.seqs, [0, 1, 2, 3, 4, 5, 7]);
  assertEquals(w.mainAddr, "10.0.0.1");
  assertEquals([...w.classes], [["READ", 4], ["DDL", 1], ["WRITE", 1]]);
  const log = (n: number) => Math.round(Math.log1p(n) * 1000) / 1000;
  assertEquals(v.statements, log(6));
  assertEquals(v.reads, log(4));
  assertEquals(v.writes, log(1));
  assertEquals(v.ddl, log(1));
  assertEquals(v.distinct_objects, log(4));
  assertEquals(v.first_time_objects, log(4)); // a, hr.pay, b, c: a twice is once
  assertEquals(v.sensitive_accesses, log(1));
  assertEquals(v.failed_logins, log(1));
  assertEquals(v.new_client_addrs, log(2));
  assertEquals(v.new_apps_or_dbs, log(1)); // excel; psql and shop came with the first event
  assertEquals(v.error_rate, Math.round((1 / 7) * 1000) / 1000);
  assertEquals([v.hour_rarity, v.weekday_rarity], [0, 0]);
  assertEquals(r.facts[3]!.destructive, true);
  assertEquals(r.facts[4]!.failedLogin, true);
  x.flush(r.sink);
  assertEquals(r.windows.map((x) => x.w.role), ["bob", "carol"]);
});

Deno.test("FeatureExtractor rates hours and weekdays against the role's own history", () => {
  const x = new FeatureExtractor(defaultDetectConfig(), () => false);
  const r = recorder();
  let seq = 0;
  for (let d = 0; d < 10; d++) x.add(seq++, ev(T0 + d * 24 * H, { object: "t" }), r.sink);
  x.add(seq++, ev(T0 + 10 * 24 * H + 8 * H, { object: "t" }), r.sink); // 18:00 UTC
  x.add(seq++, ev(T0 + 11 * 24 * H, { object: "t" }), r.sink); // back at 10:00
  x.flush(r.sink);
  const at10 = r.windows[9]!.v;
  const at18 = r.windows[10]!.v;
  assertEquals(at10.hour_rarity, 0);
  assertEquals(at18.hour_rarity, 1);
  assert(r.windows[11]!.v.hour_rarity === 0);
});

Deno.test("FeatureExtractor keeps windows per client address and per application on a database", () => {
  const x = new FeatureExtractor(defaultDetectConfig(), () => false);
  const r = recorder();
  const at = (role: string, ts: number, app: string, db = "shop") =>
    ev(ts, {
      role,
      client_addr: "10.0.0.5",
      application_name: app,
      db,
      class: "READ",
      command: "SELECT",
      object: "public.t",
    });
  x.add(1, at("bob", T0, "psql"), r.sink);
  x.add(2, at("bob", T0 + H, "psql"), r.sink);
  x.add(3, at("carol", T0 + H + 60e6, "psql"), r.sink);
  x.add(4, at("dave", T0 + H + 120e6, "dbeaver", "hr"), r.sink);
  x.add(5, at("bob", T0 + H + 180e6, "psql"), r.sink);
  x.flush(r.sink);
  const byKey = (kind: string, key: string) =>
    r.entities.filter((e) => e.w.kind === kind && e.w.key === key);
  const addr = byKey("client_addr", "10.0.0.5");
  assertEquals(addr.map((e) => [e.w.roles.size, e.w.newRoles, e.w.statements]), [
    [1, 0, 1],
    [3, 2, 4],
  ]);
  // Each window is judged against the history before it.
  assertEquals(addr.map((e) => e.before), [{ windows: 0, maxRoles: 0 }, {
    windows: 1,
    maxRoles: 1,
  }]);
  assertEquals(addr[1]!.w.seqs, [2, 3, 4, 5]);
  assertEquals(addr[1]!.w.mainRole, "bob");
  assertEquals(byKey("application", "psql@shop").map((e) => e.w.statements), [1, 3]);
  assertEquals(byKey("application", "dbeaver@hr").map((e) => e.w.mainDb), ["hr"]);
});
