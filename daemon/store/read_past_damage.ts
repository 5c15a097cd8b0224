/**
 * Reading the log past damage, in bounded chunks, for a reader that must go on where `readLog`
 * stops: detection, which has to see what follows a damaged segment (above all the
 * `STORE_DAMAGED` event that the store checks append about it) instead of stopping for the life
 * of the process, and which must not hold the event loop or a whole segment's memory while it
 * reads a long stretch of log (the HTTP server answers between chunks).
 *
 * Promises: every event the seq reader holds in the range is yielded once, in seq order, in
 * chunks of at most `chunk` events, each record checked as the seq reader checks it (CRC, seq);
 * except that when reading a chunk throws, the rest of that segment is skipped — from the first
 * seq not yet yielded to the next segment's first seq — and the skip is reported, with the
 * reason naming the segment file, to `onSkip` before reading resumes. Damage in the last segment
 * file (the one a writer appends to) is not skipped: there is nothing after it to read, and the
 * error is thrown. Memory is one chunk and the reader's bounded map cache, whatever the range.
 * Nothing is repaired; finding and recording the damage is the store checks' job.
 */

import { listSegments } from "./segment_file.ts";
import type { SeqReader, SeqRecord } from "./seq_reader.ts";
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

/** Events per chunk when the caller does not say. */
const DEFAULT_CHUNK = 4096;

/**
 * Yields the events with `fromSeq` ≤ seq < `toSeq` in ascending chunks, skipping the rest of each
 * segment whose reading throws (see the module's promises).
 */
export async function* scanPastDamage(
  reader: SeqReader,
  opts: { fromSeq?: number; toSeq: number; chunk?: number },
  onSkip: (skip: SkippedRange) => void,
): AsyncGenerator<SeqRecord[]> {
  let next = opts.fromSeq ?? 0;
  const to = opts.toSeq;
  const chunk = opts.chunk ?? DEFAULT_CHUNK;
  const dir = storePaths(reader.dataDir).segments;
  while (next < to) {
    // One segment at a time, so that damage found in a chunk is laid to the right segment and
    // the segment before it loses nothing.
    const segments = await listSegments(dir);
    const after = segments.find((s) => s.firstSeq > next);
    const end = Math.min(to, after?.firstSeq ?? Infinity);
    try {
      for await (const records of reader.scan(next, end, { chunk })) {
        next = records.at(-1)!.seq + 1;
        yield records;
      }
      next = end;
    } catch (error) {
      if (after === undefined) throw error;
      const at = segments.findLast((s) => s.firstSeq <= next);
      const message = (error as Error)?.message ?? String(error);
      const named = at === undefined || message.includes(at.name)
        ? message
        : `${at.name}: ${message}`;
      onSkip({ fromSeq: next, toSeq: end, reason: named });
      next = end;
    }
  }
}
