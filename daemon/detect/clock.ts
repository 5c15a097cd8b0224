/**
 * The site's wall clock for the hour-of-day and weekday features and the off-hours rule: event
 * times (µs since the epoch, UTC) read in the configured IANA time zone, daylight saving time
 * included, through `Intl.DateTimeFormat`. Offsets change only at whole quarter hours, so the
 * offset of a quarter hour is looked up once and remembered.
 */

/** An event time on the site's clock. */
export interface LocalTime {
  /** 0–23. */
  hour: number;
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
}

const QUARTER_MS = 15 * 60_000;

/** Checks an IANA zone name; throws `TypeError` naming the setting when it is unknown. */
export function checkTimeZone(name: string, setting: string): string {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
  } catch {
    throw new TypeError(
      `Cannot read ${setting}: ${JSON.stringify(name)} is not an IANA time zone ` +
        `(e.g. "Europe/Berlin", "UTC")`,
    );
  }
  return name;
}

/**
 * A function from event time to the hour and weekday in `timeZone`.
 *
 * @example
 * const at = localClock("Europe/Berlin");
 * at(Date.UTC(2026, 2, 29, 1) * 1000); // { hour: 3, weekday: 0 }: summer time began at 01:00 UTC
 */
export function localClock(timeZone: string): (ts: number) => LocalTime {
  if (timeZone === "UTC" || timeZone === "Etc/UTC") {
    return (ts) => {
      const d = new Date(Math.floor(ts / 1000));
      return { hour: d.getUTCHours(), weekday: d.getUTCDay() };
    };
  }
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
  });
  /** Offset from UTC in ms, by quarter hour since the epoch. */
  const offsets = new Map<number, number>();
  const offsetAt = (ms: number): number => {
    const q = Math.floor(ms / QUARTER_MS);
    let off = offsets.get(q);
    if (off === undefined) {
      const at = q * QUARTER_MS;
      const p: Record<string, number> = {};
      for (const part of fmt.formatToParts(at)) {
        if (part.type !== "literal") p[part.type] = Number(part.value);
      }
      const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!);
      off = wall - at;
      if (offsets.size >= 100_000) offsets.clear();
      offsets.set(q, off);
    }
    return off;
  };
  return (ts) => {
    const ms = Math.floor(ts / 1000);
    const d = new Date(ms + offsetAt(ms));
    return { hour: d.getUTCHours(), weekday: d.getUTCDay() };
  };
}

/** Day names by weekday number, for reasons. */
export const DAY_NAMES: readonly string[] = [
  "Sunday",
  "Monday",
  "Tuesday",
  "Wednesday",
  "Thursday",
  "Friday",
  "Saturday",
];
