/**
 * Log times as PostgreSQL writes them, to µs since the epoch (UTC).
 *
 * `log_time` is printed in `log_timezone` with the zone's abbreviation, not its offset:
 * `2026-11-23 18:00:00.123 UTC`, `… CET`, `… CEST`, `… +03`. UTC/GMT and numeric abbreviations
 * say their offset; any other name (CET, EST, IST…) means nothing without the zone it belongs to,
 * so the caller names the server's `log_timezone` (an IANA name such as `Europe/Berlin`) and the
 * wall time is resolved in it. In the hour a clock is set back, one wall time happens twice; the
 * abbreviation then tells which (CEST or CET), as far as the platform's time zone names show it;
 * failing that the earlier instant is taken. `%n` prints epoch seconds, which need no zone.
 */

import { parseRfc3339Micros } from "../../daemon/event/time.ts";

const TIME_RE = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)(?: (\S+))?$/;
const EPOCH_RE = /^(\d{1,12})\.(\d{1,6})$/;
const UTC_NAMES: ReadonlySet<string> = new Set(["UTC", "GMT", "UCT", "UT", "Z", "Zulu"]);
const NUMERIC_ZONE = /^[+-]\d\d(?::?\d\d)?$/;

/**
 * Parses a log time. `timezone` is the IANA zone the server logs in (`log_timezone`), used for
 * zone names other than UTC/GMT and for a time without a zone; default `"UTC"`.
 * Throws `SyntaxError` for text that is not such a time, and `RangeError` for an unknown
 * `timezone` or a zone name while `timezone` is UTC (the option was not set).
 *
 * @example
 * parseLogTime("2026-11-23 18:00:00.123 UTC"); // 1795456800123000
 * parseLogTime("2026-07-01 12:00:00.000 CEST", "Europe/Berlin"); // 10:00 UTC
 */
export function parseLogTime(text: string, timezone = "UTC"): number {
  // Records come in time order, many a second: convert each whole second once and add the
  // fraction (at most six digits, so the sum stays exact). No allocation when the second repeats.
  if (text.charCodeAt(19) === 0x2e) {
    const space = text.indexOf(" ", 20);
    if (space > 20 && space <= 26) {
      let fraction = 0;
      let k = 20;
      for (; k < space; k++) {
        const d = text.charCodeAt(k) - 0x30;
        if (d < 0 || d > 9) break;
        fraction = fraction * 10 + d;
      }
      if (k === space) {
        fraction *= 10 ** (26 - space);
        const c = cache;
        if (
          timezone !== c.timezone || text.length - space !== c.zone.length ||
          !text.startsWith(c.head) || !text.endsWith(c.zone)
        ) {
          const head = text.slice(0, 19);
          const zone = text.slice(space);
          cache = { head, zone, timezone, us: parseUncached(head + zone, timezone) };
        }
        return cache.us + fraction;
      }
    }
  }
  return parseUncached(text, timezone);
}

/** The last whole second converted: its date and time, its zone part and its µs. */
let cache = { head: "", zone: "", timezone: "", us: 0 };

function parseUncached(text: string, timezone: string): number {
  const epoch = EPOCH_RE.exec(text);
  if (epoch !== null) return Number(epoch[1]) * 1_000_000 + Number(epoch[2]!.padEnd(6, "0"));
  const m = TIME_RE.exec(text);
  if (m === null) throw new SyntaxError(`not a log time: ${JSON.stringify(text.slice(0, 64))}`);
  const wall = m[1]!;
  const zone = m[2];
  if (zone !== undefined && UTC_NAMES.has(zone)) return parseRfc3339Micros(`${wall}Z`);
  if (zone !== undefined && NUMERIC_ZONE.test(zone)) return parseRfc3339Micros(wall + zone);
  if (timezone === "UTC" || timezone === "Etc/UTC") {
    if (zone === undefined) return parseRfc3339Micros(`${wall}Z`);
    // Reading CET as UTC would shift every event silently by an hour: refuse instead.
    throw new RangeError(
      `log time zone ${JSON.stringify(zone)} is not UTC: set the timezone option to the ` +
        "server's log_timezone",
    );
  }
  const asUtc = parseRfc3339Micros(`${wall}Z`);
  return asUtc - zoneOffsetSeconds(wall, asUtc, zone, timezone) * 1_000_000;
}

/** The offset in seconds that `timezone` had at the wall time `wall` named `zone`. */
function zoneOffsetSeconds(
  wall: string,
  asUtc: number,
  zone: string | undefined,
  timezone: string,
): number {
  const key = `${timezone} ${wall.slice(0, 13)} ${zone}`;
  const cached = offsetCache.get(key);
  if (cached !== undefined) return cached;
  const ms = Math.floor(asUtc / 1000);
  // An offset valid at the wall time is one of those in force a day either side of it.
  const candidates = [
    ...new Set([-86_400_000, 0, 86_400_000].map((d) => offsetAt(timezone, ms + d))),
  ]
    .filter((off) => offsetAt(timezone, ms - off * 1000) === off)
    .sort((a, b) => b - a); // larger offset = earlier instant
  let offset = candidates[0] ?? offsetAt(timezone, ms);
  if (candidates.length > 1 && zone !== undefined) {
    const named = candidates.find((off) => zoneNames(timezone, ms - off * 1000).includes(zone));
    if (named !== undefined) offset = named;
  }
  if (offsetCache.size > 10_000) offsetCache.clear();
  offsetCache.set(key, offset);
  return offset;
}

const offsetCache = new Map<string, number>();
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat("en-US", {
        timeZone: timezone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    } catch (e) {
      throw new RangeError(
        `Cannot resolve log times: unknown time zone ${JSON.stringify(timezone)}`,
        {
          cause: e,
        },
      );
    }
    formatters.set(timezone, f);
  }
  return f;
}

/** Offset of `timezone` from UTC at instant `ms`, in whole seconds. */
function offsetAt(timezone: string, ms: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timezone).formatToParts(new Date(ms))) {
    if (p.type !== "literal") parts[p.type] = Number(p.value);
  }
  const wall = Date.UTC(
    parts.year!,
    parts.month! - 1,
    parts.day!,
    parts.hour!,
    parts.minute!,
    parts.second!,
  );
  return Math.round((wall - Math.floor(ms / 1000) * 1000) / 1000);
}

/** Short names the platform gives `timezone` at `ms` (US and British English differ). */
function zoneNames(timezone: string, ms: number): string[] {
  return ["en-US", "en-GB"].map((locale) =>
    new Intl.DateTimeFormat(locale, { timeZone: timezone, timeZoneName: "short" })
      .formatToParts(new Date(ms)).find((p) => p.type === "timeZoneName")?.value ?? ""
  );
}

/** Checks a `timezone` option early; throws `TypeError` naming it when it is not a zone. */
export function checkTimezone(timezone: string): void {
  try {
    formatter(timezone);
  } catch {
    throw new TypeError(`option timezone ${JSON.stringify(timezone)} is not an IANA time zone`);
  }
}
