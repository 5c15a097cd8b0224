/**
 * An event's time (`ts`, µs) read straight from its canonical JSON bytes, without parsing the
 * rest: what placing an event in a time range needs, and what the store summarises per block of
 * a compressed segment (`store/block_times.ts`). Canonical JSON starts `{"seq":<n>,"ts":<n>`
 * (`canonical.ts`: keys in schema order, no white space); anything else falls back to
 * `JSON.parse` of the whole body, so the answer is always the parser's. Everyone who compares an
 * event time with a range (the store writing a summary, verify checking it, an export finding
 * its range) reads it here, so they cannot disagree.
 */

const SEQ = new TextEncoder().encode('{"seq":');
const TS = new TextEncoder().encode(',"ts":');
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The `ts` of the event whose canonical JSON is `buf[start..end)`; SyntaxError if unreadable. */
export function eventTime(buf: Uint8Array, start: number, end: number): number {
  let at = expect(buf, start, end, SEQ);
  at = skipInt(buf, at, end);
  at = expect(buf, at, end, TS);
  const after = skipInt(buf, at, end);
  if (after > 0 && (buf[after] === 0x2c || buf[after] === 0x7d)) {
    const ts = intValue(buf, at, after);
    if (ts === ts) return ts;
  }
  let v: { ts?: unknown };
  try {
    v = JSON.parse(decoder.decode(buf.subarray(start, end)));
  } catch (e) {
    throw new SyntaxError(`Cannot read an event's JSON: ${(e as Error).message}`);
  }
  if (typeof v?.ts !== "number") throw new SyntaxError("Cannot read an event's JSON: no ts");
  return v.ts;
}

/**
 * The safe integer `buf[s..e)` as JSON.stringify writes one (an optional minus, digits, no
 * leading zero), in one pass; NaN for anything else. The digits go into two halves of at most 8,
 * each a small integer, joined at the end: one number of up to 16 digits, built digit by digit,
 * left the small-integer range partway and cost ~4x the time (every event's seq and times pass
 * here when an export builds its columns).
 */
export function intValue(buf: Uint8Array, s: number, e: number): number {
  const neg = buf[s] === 0x2d;
  const from = neg ? s + 1 : s;
  const len = e - from;
  if (len === 0 || len > 16 || (buf[from] === 0x30 && len > 1)) return NaN;
  const mid = len > 8 ? e - 8 : from;
  let hi = 0, lo = 0;
  for (let i = from; i < mid; i++) {
    const d = (buf[i]! - 0x30) >>> 0; // a byte below '0' wraps round to a large number
    if (d > 9) return NaN;
    hi = hi * 10 + d;
  }
  for (let i = mid; i < e; i++) {
    const d = (buf[i]! - 0x30) >>> 0;
    if (d > 9) return NaN;
    lo = lo * 10 + d;
  }
  // Exact below 2^53; at or past it the sum is past MAX_SAFE_INTEGER however it rounds.
  const n = mid === from ? lo : hi * 100_000_000 + lo;
  if (n > Number.MAX_SAFE_INTEGER) return NaN;
  return neg ? -n : n;
}

/** The offset after `want` at `at`, or -1. */
export function expect(buf: Uint8Array, at: number, end: number, want: Uint8Array): number {
  if (at < 0 || at + want.length > end) return -1;
  for (let i = 0; i < want.length; i++) if (buf[at + i] !== want[i]) return -1;
  return at + want.length;
}

/** The offset after an optional `-` and one or more digits at `at`, or -1. */
export function skipInt(buf: Uint8Array, at: number, end: number): number {
  if (at < 0) return -1;
  let i = buf[at] === 0x2d ? at + 1 : at;
  const digits = i;
  while (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
  return i > digits ? i : -1;
}
