/**
 * The log as runs of seqs with what is known of their event times, for finding a time range's
 * seqs without reading the store (`plan.ts`): each block of a compressed segment with the time
 * span its block table keeps (`store/block_times.ts`: written when the segment was compressed,
 * checked by verify), and each segment without spans (not compressed yet, or compressed by a
 * release before spans) whole, with none. Only block tables are read, never a block. A table
 * that cannot be read leaves its segment without spans: reading it then reports the damage.
 */

import type { TimeSpan } from "../store/block_times.ts";
import { readBlockTable } from "../store/segment_compress.ts";
import { listSegments } from "../store/segment_file.ts";
import { storePaths } from "../store/store_open.ts";

/** Seqs [from, to) of the log; `times` their events' time span, when known. */
export interface LogPart {
  from: number;
  to: number;
  times?: TimeSpan;
}

/** The parts of the log covering seqs [logStart, end), in seq order. */
export async function logParts(dataDir: string, logStart: number, end: number): Promise<LogPart[]> {
  const segments = await listSegments(storePaths(dataDir).segments);
  const parts: LogPart[] = [];
  const add = (from: number, to: number, times?: TimeSpan): void => {
    from = Math.max(from, logStart);
    to = Math.min(to, end);
    if (from < to) parts.push(times === undefined ? { from, to } : { from, to, times });
  };
  for (const [i, seg] of segments.entries()) {
    const segEnd = segments[i + 1]?.firstSeq ?? end;
    if (segEnd <= logStart || seg.firstSeq >= end) continue;
    const blocks = seg.compressed ? await blocksOf(seg.path) : null;
    if (blocks === null || blocks.some((b) => b.times === undefined)) {
      add(seg.firstSeq, segEnd);
      continue;
    }
    blocks.forEach((b, k) => add(b.firstSeq, blocks[k + 1]?.firstSeq ?? segEnd, b.times));
  }
  return parts;
}

/** The blocks of the compressed segment at `path`, or null when its table cannot be read. */
async function blocksOf(
  path: string,
): Promise<{ firstSeq: number; times?: TimeSpan }[] | null> {
  try {
    using file = await Deno.open(path, { read: true });
    return (await readBlockTable(file)).blocks;
  } catch (e) {
    if (e instanceof SyntaxError || e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}
