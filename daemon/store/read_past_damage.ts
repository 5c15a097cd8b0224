/**
 * Reading the log past damage, for a reader that must go on where `readLog` stops: detection,
 * which has to see what follows a damaged segment (above all the `STORE_DAMAGED` event that the
 * store checks append about it) instead of stopping for the life of the process.
 *
 * Promises: every record `readLog` would yield is yielded, in seq order, except those of a
 * segment that cannot be read; such a segment is skipped whole — from the first seq not yet
 * yielded to the next segment's first seq — and the skip is reported, with the reason, to
 * `onSkip` before reading resumes. Damage in the last segment file (the one a writer appends to)
 * is not skipped: there is nothing after it to read, and the error is thrown as `readLog` throws
 * it. Nothing is repaired; finding and recording the damage is the store checks' job.
 */

import { type LogRecord, readLog } from "./log_reader.ts";
import { listSegments } from "./segment_file.ts";
import { storePaths } from "./store_open.ts";

/** A run of seqs that could not be read. */
export interface SkippedRange {
  /** First seq skipped. */
  fromSeq: number;
  /** First seq after the skip (the next segment's first seq). */
  toSeq: number;
  /** Why: the read error, naming the segment file. */
  reason: string;
}

/**
 * Yields events with `fromSeq` ≤ seq < `toSeq` as `readLog` does, skipping each segment whose
 * reading throws (see the module's promises).
 */
export async function* readLogPastDamage(
  dataDir: string,
  opts: { fromSeq?: number; toSeq?: number },
  onSkip: (skip: SkippedRange) => void,
): AsyncGenerator<LogRecord> {
  let next = opts.fromSeq ?? 0;
  const to = opts.toSeq ?? Infinity;
  while (next < to) {
    try {
      for await (const r of readLog(dataDir, { fromSeq: next, toSeq: to })) {
        next = r.seq + 1;
        yield r;
      }
      return;
    } catch (error) {
      const segments = await listSegments(storePaths(dataDir).segments);
      const after = segments.find((s) => s.firstSeq > next);
      if (after === undefined) throw error;
      const at = segments.findLast((s) => s.firstSeq <= next);
      const message = (error as Error)?.message ?? String(error);
      const named = at === undefined || message.includes(at.name)
        ? message
        : `${at.name}: ${message}`;
      onSkip({ fromSeq: next, toSeq: Math.min(after.firstSeq, to), reason: named });
      next = after.firstSeq;
    }
  }
}
