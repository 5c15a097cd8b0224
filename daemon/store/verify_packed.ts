/**
 * Checking a run of a compressed segment's blocks where the check runs (on a verify Worker, or
 * inline): the blocks are decompressed there, so that both cores share the decompression as
 * they share the hashing, and the run is checked as `checkChunk` checks raw bytes. Each block's
 * event time span in the table is recomputed from its events and must match (`block_times.ts`).
 * Offsets in the result are those of the segment's raw bytes, as for an uncompressed segment.
 * The raw bytes go into one buffer kept for the next run (no result refers to it): a run a
 * segment would otherwise leave ~16 MiB of garbage a time that the collector, seeing a small
 * heap, frees late, so a verification's memory grew with the number of segments it checked.
 */

import { eventTimeSpan, sameSpan } from "./block_times.ts";
import { HEADER_SIZE } from "./frame.ts";
import { type Block, decompressBlockInto } from "./segment_compress.ts";
import { checkChunk, type ChunkResult, type ChunkTask } from "./verify_chunk.ts";

/** A run of blocks: `buf` is the compressed file, `start`/`end` are raw offsets. */
export interface PackedTask extends ChunkTask {
  blocks: { block: Block; index: number }[];
}

/** Raw bytes of the last run, reused by the next (tasks run one at a time on a thread). */
let scratch = new Uint8Array(0);

function rawBuffer(size: number): Uint8Array {
  if (scratch.length < size) scratch = new Uint8Array(size);
  return scratch.subarray(0, size);
}

/** Checks a task, decompressing its blocks first when it has any. */
export function checkTask(task: ChunkTask | PackedTask): ChunkResult {
  if (!("blocks" in task)) return checkChunk(task);
  const first = task.blocks[0]!.block;
  const last = task.blocks[task.blocks.length - 1]!.block;
  const base = first.rawOffset;
  const raw = rawBuffer(last.rawOffset + last.rawLength - base);
  try {
    for (const { block, index } of task.blocks) {
      decompressBlockInto(task.buf, block, index, raw, block.rawOffset - base);
      checkTimes(raw, block, index, base);
    }
  } catch (e) {
    return {
      leaves: new Uint8Array(0),
      count: 0,
      endChain: task.prevChain.slice(),
      chains: [],
      sealAt: -1,
      signedClaim: 0,
      stop: { kind: "end" },
      problem: { reason: (e as Error).message, offset: task.start, seq: task.firstSeq },
    };
  }
  const r = checkChunk({ ...task, buf: raw, start: task.start - base, end: task.end - base });
  const at = (offset: number): number => offset + base;
  return {
    ...r,
    chains: r.chains.map((c) => ({ ...c, offset: at(c.offset) })),
    sealAt: r.sealAt >= 0 ? at(r.sealAt) : -1,
    stop: r.stop.kind === "end" ? r.stop : { ...r.stop, offset: at(r.stop.offset) },
    problem: r.problem ? { ...r.problem, offset: at(r.problem.offset) } : null,
  };
}

/**
 * Throws SyntaxError when the table's time span of `block` (decompressed into `raw` at its raw
 * offset less `base`) is not the one its events have: a span too narrow would let an export of
 * a time range leave out an event of it.
 */
function checkTimes(raw: Uint8Array, block: Block, index: number, base: number): void {
  if (block.times === undefined) return;
  const at = block.rawOffset - base;
  const span = eventTimeSpan(
    raw,
    at + (block.rawOffset === 0 ? HEADER_SIZE : 0),
    at + block.rawLength,
  );
  if (!sameSpan(span, block.times)) {
    throw new SyntaxError(
      `compressed segment block ${index}: its events' times span [${span.min}, ${span.max}], ` +
        `its block table says [${block.times.min}, ${block.times.max}]`,
    );
  }
}
