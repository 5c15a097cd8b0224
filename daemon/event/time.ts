/**
 * RFC 3339 text to and from integer microseconds since the Unix epoch, exactly. The fraction
 * never passes through a float or a `Date`, so `parseRfc3339Micros(formatRfc3339Micros(t)) === t`
 * for every time the store can hold: a safe integer of µs, 1684-07-28 to 2255-06-05.
 *
 * Output is always `YYYY-MM-DDTHH:MM:SS.ffffffZ`: UTC, six fraction digits even when zero. A fixed
 * width sorts as text in time order and shows the store's resolution at a glance.
 */

const TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;

const US_PER_SECOND = 1_000_000;
/** Beyond this many whole seconds, µs no longer fit a safe integer. */
const MAX_ABS_SECONDS = Math.floor(Number.MAX_SAFE_INTEGER / US_PER_SECOND);

/**
 * Parses an RFC 3339 time into µs since the epoch, UTC.
 *
 * Accepts `T`, `t` or a space between date and time; an offset of `Z`, `±hh:mm`, `±hhmm` or, as
 * PostgreSQL prints it, `±hh`. The fraction may have any number of digits, but digits past the
 * sixth must be zero: the store keeps microseconds and never rounds a time silently. Second 60
 * (a leap second) rolls into the next minute, as PostgreSQL does. An offset is required: a time
 * without one is ambiguous.
 *
 * Throws `SyntaxError` for text that is not such a time (or names no calendar date) and
 * `RangeError` for a time outside the safe-integer µs range.
 *
 * @example
 * parseRfc3339Micros("2024-05-01 10:00:00.123456+02"); // 1714550400123456
 */
export function parseRfc3339Micros(text: string): number {
  const m = TIME_RE.exec(text);
  if (m === null) throw new SyntaxError(notATime(text, "expected YYYY-MM-DDTHH:MM:SS[.f]Z|±hh:mm"));
  const [, ys, mos, ds, hs, mis, ss, frac, zulu, sign, ohs, oms] = m;
  const year = Number(ys), month = Number(mos), day = Number(ds);
  const hour = Number(hs), minute = Number(mis), second = Number(ss);
  if (month < 1 || month > 12) throw new SyntaxError(notATime(text, `no month ${mos}`));
  if (day < 1 || day > daysInMonth(year, month)) {
    throw new SyntaxError(notATime(text, `no day ${ds} in ${ys}-${mos}`));
  }
  if (hour > 23 || minute > 59 || second > 60) {
    throw new SyntaxError(notATime(text, `no time of day ${hs}:${mis}:${ss}`));
  }
  let micros = 0;
  if (frac !== undefined) {
    if (frac.length > 6 && !/^0+$/.test(frac.slice(6))) {
      throw new SyntaxError(notATime(text, "finer than microseconds"));
    }
    micros = Number(frac.slice(0, 6).padEnd(6, "0"));
  }
  let offsetSeconds = 0;
  if (zulu === undefined) {
    const oh = Number(ohs), om = Number(oms ?? "0");
    if (oh > 23 || om > 59) throw new SyntaxError(notATime(text, "no such offset"));
    offsetSeconds = (sign === "-" ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const seconds = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second -
    offsetSeconds;
  // Every step above is a small exact integer; checking the seconds first keeps the product
  // below exact too, and the final check catches the last partial second at the edge.
  const us = Math.abs(seconds) <= MAX_ABS_SECONDS + 1 ? seconds * US_PER_SECOND + micros : NaN;
  if (!Number.isSafeInteger(us)) {
    throw new RangeError(
      `time ${quote(text)} is outside the range 1684-07-28 to 2255-06-05 (µs in a safe integer)`,
    );
  }
  return us;
}

/**
 * Formats µs since the epoch as RFC 3339 in UTC with exactly six fraction digits.
 * Throws `RangeError` unless `us` is a safe integer.
 *
 * @example
 * formatRfc3339Micros(1714550400123456); // "2024-05-01T08:00:00.123456Z"
 */
export function formatRfc3339Micros(us: number): string {
  if (!Number.isSafeInteger(us)) {
    throw new RangeError(`Cannot format time ${us}: not a safe integer of microseconds`);
  }
  // `%` is exact on integers and floors toward negative infinity once shifted, so times before
  // 1970 keep a positive fraction and round down to the earlier second.
  const micros = ((us % US_PER_SECOND) + US_PER_SECOND) % US_PER_SECOND;
  const seconds = (us - micros) / US_PER_SECOND;
  // Whole milliseconds below 2^53 are exact in a Date; only the seconds part goes through it.
  const whole = new Date(seconds * 1000).toISOString().slice(0, 19);
  return `${whole}.${String(micros).padStart(6, "0")}Z`;
}

function notATime(text: string, why: string): string {
  return `not an RFC 3339 time: ${quote(text)} (${why})`;
}

/** Input text for a message, cut short: a bad field can be megabytes. */
function quote(text: string): string {
  return text.length > 64 ? JSON.stringify(text.slice(0, 64)) + "…" : JSON.stringify(text);
}

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeapYear(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}
