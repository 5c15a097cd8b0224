import { checkTimeZone, localClock } from "../../../daemon/detect/clock.ts";
import { defaultDetectConfig, detectConfigFromTable } from "../../../daemon/detect/config.ts";
import { DetectEngine } from "../../../daemon/detect/engine.ts";
import type { AuditEvent, NewEvent } from "../../../daemon/event/model.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

const us = (y: number, mo: number, d: number, h: number, mi = 0) =>
  Date.UTC(y, mo - 1, d, h, mi) * 1000;

Deno.test("localClock() reads event times on the site's clock across both DST changes", () => {
  const berlin = localClock("Europe/Berlin");
  // Summer time began on Sunday 2026-03-29 at 01:00 UTC: 02:00 CET became 03:00 CEST.
  assertEquals(berlin(us(2026, 3, 29, 0, 59)), { hour: 1, weekday: 0 });
  assertEquals(berlin(us(2026, 3, 29, 1, 0)), { hour: 3, weekday: 0 });
  // It ended on Sunday 2026-10-25 at 01:00 UTC: 03:00 CEST became 02:00 CET, 02:xx twice.
  assertEquals(berlin(us(2026, 10, 25, 0, 30)), { hour: 2, weekday: 0 });
  assertEquals(berlin(us(2026, 10, 25, 1, 30)), { hour: 2, weekday: 0 });
  // Late on a Monday in UTC is Tuesday in Berlin.
  assertEquals(berlin(us(2026, 1, 5, 23, 30)), { hour: 0, weekday: 2 });
  // Half-hour zones and the UTC default.
  assertEquals(localClock("Asia/Kolkata")(us(2026, 1, 5, 3, 40)), { hour: 9, weekday: 1 });
  assertEquals(localClock("UTC")(us(2026, 1, 5, 23, 30)), { hour: 23, weekday: 1 });
});

Deno.test("[detect] timezone takes IANA names, defaults to UTC and rejects unknown zones", () => {
  assertEquals(defaultDetectConfig().timezone, "UTC");
  assertEquals(detectConfigFromTable({ timezone: "Europe/Berlin" }).timezone, "Europe/Berlin");
  assertThrows(() => detectConfigFromTable({ timezone: "Mars/Olympus" }), {
    instanceOf: TypeError,
    message: /timezone/,
  });
  assertThrows(() => detectConfigFromTable({ timezone: 1 }), {
    instanceOf: TypeError,
    message: /timezone/,
  });
  assertThrows(() => checkTimeZone("CEST+", "x"), { instanceOf: TypeError, message: /IANA/ });
});

/**
 * A Berlin office role working 09:00–12:00 local time every weekday for five weeks, across the
 * start of summer time: in UTC its hours move by one on 2026-03-30.
 */
function officeHours(): AuditEvent[] {
  const berlin = localClock("Europe/Berlin");
  const out: NewEvent[] = [];
  for (let day = 0; day < 35; day++) {
    const midnight = us(2026, 3, 2, 0) + day * 86_400_000_000;
    for (let h = 0; h < 24; h++) {
      const t = midnight + h * 3_600_000_000;
      const local = berlin(t);
      if (local.weekday === 0 || local.weekday === 6 || local.hour < 9 || local.hour >= 12) {
        continue;
      }
      for (let i = 0; i < 4; i++) {
        out.push({
          ts: t + i * 600e6,
          source: "log",
          kind: "session",
          role: "clerk",
          db: "shop",
          client_addr: "10.0.0.9",
          application_name: "erp",
          class: "READ",
          command: "SELECT",
          object: `public.t${i}`,
        });
      }
    }
  }
  return out.map((e, seq) => ({ ...e, seq, ingest_ts: 0 }));
}

Deno.test("off_hours follows the site's clock: a DST change is not unusual hours in Berlin", () => {
  const events = officeHours();
  const offHours = (timezone: string) => {
    const engine = new DetectEngine({ ...defaultDetectConfig(), timezone, disabled: ["model"] });
    engine.feed(events.map((event) => ({ seq: event.seq, event })));
    engine.flush();
    return engine.list().filter((a) => a.rule === "off_hours");
  };
  // On UTC the first working day of summer time starts at 07:00 UTC, an hour never seen.
  const utc = offHours("UTC");
  assert(utc.length > 0, "no off_hours alert on UTC");
  assert(utc.every((a) => a.reason.includes("7:00 UTC")), utc.map((a) => a.reason).join("; "));
  assertEquals(offHours("Europe/Berlin"), []);
});
