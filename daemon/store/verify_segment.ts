/**
 * Reading and checking one segment for `verifyStore`: its runs of records checked on the verify
 * Workers (or inline), an uncompressed segment split at record boundaries, a compressed one by
 * its blocks, each decompressed where it is checked. The caller ties the runs together (each
 * run's starting chain head must be where the one before ended) and reads the results in order.
 */

import { decodeHeader, HEADER_SIZE, type SegmentHeader } from "./frame.ts";
import { type BlockTable, decodeBlockTable, decompressBlock } from "./segment_compress.ts";
import {
  type LoadedSegment,
  loadSegment,
  readWhole,
  type SegmentBuffer,
  type SegmentEntry,
} from "./segment_file.ts";
import { type ChunkResult, splitChunks } from "./verify_chunk.ts";
import type { PackedTask } from "./verify_packed.ts";
import type { ChunkRunner } from "./verify_pool.ts";

/** What checking a segment gave, or why it could not be read. */
export type SegmentJob =
  | { error: string }
  | {
    header: SegmentHeader;
    /** The raw bytes, for telling a torn tail from damage; null for a compressed segment. */
    buf: Uint8Array | null;
    runs: ReturnType<typeof splitChunks>;
    results: ChunkResult[];
  };

/** How to check a segment. */
export interface CheckOptions {
  /** The memory to read the file into (shared memory when the runner has Workers). */
  buffer: SegmentBuffer;
  parts: number;
  runner: ChunkRunner;
  chainsAt: number[];
}

/**
 * Reads one segment into `buffer` and checks its runs of records. The job's `buf` is a view of
 * that buffer, valid until it is given to the next segment.
 */
export async function checkSegment(entry: SegmentEntry, opts: CheckOptions): Promise<SegmentJob> {
  if (entry.compressed) return await checkPacked(entry, opts);
  let seg: LoadedSegment;
  try {
    seg = await loadSegment(entry, { buffer: opts.buffer });
  } catch (e) {
    return { error: (e as Error).message };
  }
  const buf = seg.bytes;
  const runs = splitChunks(buf, {
    start: HEADER_SIZE,
    end: buf.length,
    firstSeq: seg.header.firstSeq,
    prevChain: seg.header.prevChain,
    parts: opts.parts,
  });
  const results = await Promise.all(
    runs.map((r) => opts.runner.run({ ...r, buf, chainsAt: opts.chainsAt })),
  );
  return { header: seg.header, buf, runs, results };
}

/**
 * Checks a compressed segment: its blocks in about `parts` runs, each decompressed where it is
 * checked. The header comes from the first block, decompressed here.
 */
async function checkPacked(entry: SegmentEntry, opts: CheckOptions): Promise<SegmentJob> {
  let file: Uint8Array;
  let table: BlockTable;
  let header: SegmentHeader;
  try {
    file = await readWhole(entry.path, (n) => opts.buffer.take(n));
    table = decodeBlockTable(file);
    header = decodeHeader(decompressBlock(file, table.blocks[0]!, 0).subarray(0, HEADER_SIZE));
  } catch (e) {
    return { error: `${entry.name}: ${(e as Error).message}` };
  }
  const per = Math.ceil(table.blocks.length / opts.parts);
  const runs: ReturnType<typeof splitChunks> = [];
  const tasks: PackedTask[] = [];
  for (let i = 0; i < table.blocks.length; i += per) {
    const blocks = table.blocks.slice(i, i + per).map((block, k) => ({ block, index: i + k }));
    const first = blocks[0]!.block;
    const last = blocks[blocks.length - 1]!.block;
    const run = {
      start: Math.max(HEADER_SIZE, first.rawOffset),
      end: last.rawOffset + last.rawLength,
      firstSeq: i === 0 ? header.firstSeq : first.firstSeq,
      prevChain: i === 0 ? header.prevChain : first.prevChain,
    };
    runs.push(run);
    tasks.push({ ...run, buf: file, blocks, chainsAt: opts.chainsAt });
  }
  const results = await Promise.all(tasks.map((t) => opts.runner.run(t)));
  return { header, buf: null, runs, results };
}
