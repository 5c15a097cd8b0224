/**
 * The least and greatest event time (`ts`) of a run of records: what a compressed segment's
 * block table keeps for each block (`segment_compress.ts`), so that finding the events of a time
 * range skips every block that cannot hold one. Event time is not monotonic in seq (sources
 * deliver late), so the span is over every event of the block, not its first and last.
 *
 * A span may only ever be too wide, never too narrow: a block whose events cannot all be read
 * (not JSON, a wild frame length) gets the span of all time, so it is always looked into. A
 * block without events gets the empty span (`min` +∞, `max` −∞), which no range meets. Verify
 * recomputes each block's span from its bytes and reports a table that says otherwise.
 */

import { eventTime } from "../event/event_time.ts";
import { CHAIN_SIZE, FRAME_EVENT, FRAME_OVERHEAD, MAX_PAYLOAD, MIN_PAYLOAD } from "./frame.ts";

/** The least and greatest event time of a block, µs. */
export interface TimeSpan {
  min: number;
  max: number;
}

/** The span of all time: what a block whose times cannot be read is given. */
export const ALL_TIME: Readonly<TimeSpan> = { min: -Infinity, max: Infinity };

/** The span of the event frames in `raw[start..end)`, walked by their lengths. */
export function eventTimeSpan(raw: Uint8Array, start: number, end: number): TimeSpan {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let min = Infinity, max = -Infinity;
  for (let off = start; off + FRAME_OVERHEAD <= end;) {
    const len = dv.getUint32(off);
    const body = off + FRAME_OVERHEAD + CHAIN_SIZE + 1;
    off += FRAME_OVERHEAD + len;
    if (len < MIN_PAYLOAD || len > MAX_PAYLOAD || off > end) return { ...ALL_TIME };
    if (raw[body - 1] !== FRAME_EVENT) continue;
    let ts: number;
    try {
      ts = eventTime(raw, body, off);
    } catch {
      return { ...ALL_TIME };
    }
    if (ts < min) min = ts;
    if (ts > max) max = ts;
  }
  return { min, max };
}

/** Whether a block of span `s` may hold an event with `lo ≤ ts < hi`. */
export function spanMeets(s: TimeSpan, lo: number, hi: number): boolean {
  return s.min < hi && s.max >= lo;
}

/** Whether two spans are the same (±∞ included). */
export function sameSpan(a: TimeSpan, b: TimeSpan): boolean {
  return a.min === b.min && a.max === b.max;
}
