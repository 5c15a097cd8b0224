/**
 * The log as runs of seqs with what is known of their event times, for finding a time range's
 * seqs without reading the store (`plan.ts`): each block of a compressed segment with the time
 * span its block table keeps (`store/block_times.ts`: written when the segment was compressed,
 * checked by verify), and each segment without spans (not compressed yet, or compressed by a
 * release before spans) whole, with none. Only block tables are read, never a block. A table
 * that cannot be read leaves its segment without spans: reading it then reports the damage.
 * Tables are read `TABLE_READS` at a time: each is a handful of small reads, whose round trips
 * to the runtime's I/O threads, one after the other, were most of a plan's time at 100M events
 * (650 segments: 227–257 ms one at a time, 58–75 ms eight at a time).
 */

import type { TimeSpan } from "../store/block_times.ts";
import { readBlockTable } from "../store/segment_compress.ts";
import { listSegments } from "../store/segment_file.ts";
import { storePaths } from "../store/store_open.ts";

/** Block tables read at once. */
const TABLE_READS = 8;

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
  const endOf = (i: number): number => segments[i + 1]?.firstSeq ?? end;
  const wanted = segments.map((seg, i) => endOf(i) > logStart && seg.firstSeq < end);
  const tables = await mapInTurn(
    segments,
    (seg, i) => wanted[i] && seg.compressed ? blocksOf(seg.path) : Promise.resolve(null),
  );
  for (const [i, seg] of segments.entries()) {
    const segEnd = endOf(i);
    if (!wanted[i]) continue;
    const blocks = tables[i]!;
    if (blocks === null || blocks.some((b) => b.times === undefined)) {
      add(seg.firstSeq, segEnd);
      continue;
    }
    blocks.forEach((b, k) => add(b.firstSeq, blocks[k + 1]?.firstSeq ?? segEnd, b.times));
  }
  return parts;
}

/**
 * `fn` of each item, `TABLE_READS` at a time, in the items' order; the first failure throws, and
 * no item is begun after it.
 */
async function mapInTurn<T, R>(
  items: readonly T[],
  fn: (t: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        next = items.length;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(TABLE_READS, items.length) }, lane));
  return out;
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
