import { checkTimezone, parseLogTime } from "../../../plugins/pgaudit/log_time.ts";
import { formatRfc3339Micros } from "../../../daemon/event/time.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

function utc(text: string, timezone?: string): string {
  return formatRfc3339Micros(parseLogTime(text, timezone));
}

Deno.test("parseLogTime() reads UTC, numeric zones and epoch seconds", () => {
  assertEquals(utc("2026-11-23 18:00:00.123 UTC"), "2026-11-23T18:00:00.123000Z");
  assertEquals(utc("2026-11-23 18:00:00 GMT"), "2026-11-23T18:00:00.000000Z");
  assertEquals(utc("2026-11-23 18:00:00.5 +03"), "2026-11-23T15:00:00.500000Z");
  assertEquals(utc("2026-11-23 18:00:00.000 -0330"), "2026-11-23T21:30:00.000000Z");
  assertEquals(utc("1795456800.123"), "2026-11-23T18:00:00.123000Z");
});

Deno.test("parseLogTime() resolves zone names in the server's log_timezone", () => {
  assertEquals(utc("2026-07-01 12:00:00.000 CEST", "Europe/Berlin"), "2026-07-01T10:00:00.000000Z");
  assertEquals(utc("2026-01-01 12:00:00.000 CET", "Europe/Berlin"), "2026-01-01T11:00:00.000000Z");
  assertEquals(utc("2026-01-01 12:00:00.000 IST", "Asia/Kolkata"), "2026-01-01T06:30:00.000000Z");
});

Deno.test("parseLogTime() tells the repeated hour apart by the zone's abbreviation", () => {
  // 2026-10-25: Berlin's clocks go from 03:00 CEST back to 02:00 CET.
  assertEquals(utc("2026-10-25 02:30:00.000 CEST", "Europe/Berlin"), "2026-10-25T00:30:00.000000Z");
  assertEquals(utc("2026-10-25 02:30:00.000 CET", "Europe/Berlin"), "2026-10-25T01:30:00.000000Z");
  assertEquals(
    utc("2026-11-01 01:30:00.000 EDT", "America/New_York"),
    "2026-11-01T05:30:00.000000Z",
  );
  assertEquals(
    utc("2026-11-01 01:30:00.000 EST", "America/New_York"),
    "2026-11-01T06:30:00.000000Z",
  );
});

Deno.test("parseLogTime() refuses a zone name it cannot place, and bad text", () => {
  assertThrows(() => parseLogTime("2026-01-01 12:00:00.000 CET"), {
    instanceOf: RangeError,
    message: "set the timezone option",
  });
  assertThrows(() => parseLogTime("2026-01-01 12:00:00.000 CET", "Mars/Olympus"), {
    instanceOf: RangeError,
  });
  for (const bad of ["", "yesterday", "2026-13-01 00:00:00 UTC", "2026-01-01T00:00:00 UTC"]) {
    const err = thrown(() => parseLogTime(bad));
    assert(err instanceof SyntaxError, `${JSON.stringify(bad)}: ${err}`);
  }
  assertThrows(() => checkTimezone("Nowhere/City"), { instanceOf: TypeError });
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
