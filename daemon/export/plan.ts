/**
 * What an export covers. The Merkle tree is over every event in seq order, so a bundle that an
 * auditor can check against a signed root must hold a contiguous run of seqs, whatever their
 * source or time. Event-time bounds are therefore mapped to the smallest such run that holds
 * every signed event with `from ≤ ts < to`: from the first of them to the last, with every event
 * in between — including ones of other times, since sources deliver late — and nothing is
 * filtered out of it. Without `from` the run starts at seq 0; without `to` it ends at the
 * latest signed checkpoint. Events after the latest checkpoint are never exported: no signature
 * covers them yet. Once retention has deleted the oldest segments, a plan without `from` starts
 * at the first event still on disk. The exporter asks for exact seqs instead (`seqs`), which must
 * be on disk and end at or below the latest checkpoint.
 */

import { type Checkpoint, readCheckpoints } from "../store/checkpoint.ts";
import { spanMeets } from "../store/block_times.ts";
import { SeqReader } from "../store/seq_reader.ts";
import { listSegments } from "../store/segment_file.ts";
import { storePaths } from "../store/store_open.ts";
import { EventPeek } from "./event_peek.ts";
import { type LogPart, logParts } from "./log_parts.ts";
import { BODY_AT } from "../store/frame.ts";
import { CHAIN_AT, scanLog } from "./log_scan.ts";

/** Nothing to export: no checkpoint yet, or no signed event in the asked time range. */
export class NothingToExportError extends Error {
  override name = "NothingToExportError";
}

/** The seqs, checkpoints and counts an export is made of. */
export interface ExportPlan {
  /** Seqs [firstSeq, endSeq) are exported. */
  firstSeq: number;
  endSeq: number;
  /** The first checkpoint whose tree holds seq endSeq - 1. */
  checkpoint: Checkpoint;
  /** The last checkpoint of size ≤ firstSeq, if any. */
  previous: Checkpoint | null;
  /** Checkpoints of size strictly between firstSeq and checkpoint.size. */
  inner: Checkpoint[];
  /** Events in the log after the latest checkpoint, left out. */
  unsigned: number;
}

/**
 * Plans an export of `dataDir` for event times `from ≤ ts < to` (µs; either may be absent).
 * Throws NothingToExportError when no signed event falls in the range.
 */
export async function planExport(
  dataDir: string,
  opts: { from?: number; to?: number; seqs?: { from: number; to: number } } = {},
): Promise<ExportPlan> {
  const paths = storePaths(dataDir);
  const { checkpoints } = await readCheckpoints(paths.checkpoints);
  const latest = checkpoints[checkpoints.length - 1];
  if (!latest || latest.size === 0) {
    throw new NothingToExportError(`no signed checkpoint in ${dataDir} yet: nothing to export`);
  }
  // The log's length maps the newest segment, and a time range's end is looked for in it too:
  // the two read it at once, each while the other waits on the disk.
  const size = logSize(dataDir);
  size.catch(() => {}); // awaited below, on every path
  const logStart = (await listSegments(paths.segments))[0]?.firstSeq ?? 0;
  const unsignedCount = async (): Promise<number> => Math.max(0, await size - latest.size);
  let firstSeq = logStart, endSeq = latest.size;
  if (opts.seqs) {
    ({ from: firstSeq, to: endSeq } = opts.seqs);
    if (firstSeq < logStart || endSeq > latest.size || firstSeq >= endSeq) {
      throw new RangeError(
        `Cannot export seqs ${firstSeq} to ${endSeq - 1} of ${dataDir}: the log holds seqs ` +
          `from ${logStart} and the latest checkpoint signs ${latest.size} events`,
      );
    }
  } else if (opts.from !== undefined || opts.to !== undefined) {
    const { first, last } = await seqsInTime(dataDir, {
      lo: opts.from ?? -Infinity,
      hi: opts.to ?? Infinity,
      logStart,
      end: latest.size,
    });
    if (first < 0) {
      const newer = await unsignedCount();
      throw new NothingToExportError(
        `no signed event in ${dataDir} has a time in the range asked for` +
          (newer ? ` (${newer} newer events are not signed yet)` : ""),
      );
    }
    if (opts.from !== undefined) firstSeq = Math.max(first, logStart);
    if (opts.to !== undefined) endSeq = last + 1;
  }
  const checkpoint = checkpoints.find((c) => c.size >= endSeq)!;
  const previous = checkpoints.findLast((c) => c.size <= firstSeq) ?? null;
  const inner = checkpoints.filter((c) => c.size > firstSeq && c.size < checkpoint.size);
  return { firstSeq, endSeq, checkpoint, previous, inner, unsigned: await unsignedCount() };
}

/**
 * The first and last seq in [logStart, end) whose event time is in [lo, hi), or -1s. A late
 * event may sit anywhere, so every part of the log that may hold one is looked into: the blocks
 * of compressed segments whose time span (`store/block_times.ts`, checked by verify) meets the
 * range, and every segment without spans. The first is looked for from the front and the last
 * from the back, each stopping at the first part that holds one, so what is read is about the
 * range's two ends, not the store.
 */
async function seqsInTime(
  dataDir: string,
  r: { lo: number; hi: number; logStart: number; end: number },
): Promise<{ first: number; last: number }> {
  const parts = (await logParts(dataDir, r.logStart, r.end)).filter((p) =>
    p.times === undefined || spanMeets(p.times, r.lo, r.hi)
  );
  let first = -1, last = -1, at = 0;
  for (; at < parts.length && first < 0; at++) {
    first = (await inTime(dataDir, parts[at]!, r)).first;
  }
  if (first < 0) return { first, last };
  for (let i = parts.length - 1; i >= at - 1 && last < 0; i--) {
    last = (await inTime(dataDir, parts[i]!, r)).last;
  }
  return { first, last };
}

/** The first and last seq of `part` whose event time is in [lo, hi), or -1s. */
async function inTime(
  dataDir: string,
  part: LogPart,
  r: { lo: number; hi: number },
): Promise<{ first: number; last: number }> {
  let first = -1, last = -1;
  const peek = new EventPeek();
  for await (const s of scanLog(dataDir, { fromSeq: part.from, toSeq: part.to })) {
    const dv = new DataView(s.buf.buffer, s.buf.byteOffset, s.buf.byteLength);
    for (let i = 0; i < s.count; i++) {
      const frame = s.frames[i]!;
      const ts = peek.ts(s.buf, frame + BODY_AT, frame + CHAIN_AT + dv.getUint32(frame));
      if (ts >= r.lo && ts < r.hi) {
        if (first < 0) first = s.firstSeq + i;
        last = s.firstSeq + i;
      }
    }
  }
  return { first, last };
}

/** The log's durable length: the newest segment's end (read through its map). */
async function logSize(dataDir: string): Promise<number> {
  return await (await SeqReader.open(dataDir)).end();
}
