/**
 * What the store does on open: read the active (last) segment back, check every record's CRC,
 * seq and chain link, and find where the log really ends. A torn tail — the last write cut off
 * by a crash — is truncated to the end of the last whole group commit and reported. Anything else that is wrong
 * is damage and is thrown, never repaired.
 */

import {
  CHAIN_SIZE,
  commitFields,
  FRAME_COMMIT,
  FRAME_EVENT,
  FRAME_POSITION,
  FRAME_SEAL,
  HEADER_SIZE,
  isTailLike,
  scanFrames,
} from "./frame.ts";
import { StoreDamageError } from "./errors.ts";
import {
  type LoadedSegment,
  loadSegment,
  type SegmentBuffer,
  type SegmentEntry,
} from "./segment_file.ts";
import { decompressBlock, readBlockBytes, readBlockTable } from "./segment_compress.ts";
import { checkChunk } from "./verify_chunk.ts";

/** The log's end as found on open. */
export interface ActiveState {
  segment: LoadedSegment;
  /** Byte length of the whole records (the file is truncated to it when a tail was torn). */
  size: number;
  nextSeq: number;
  chain: Uint8Array;
  /** The segment ends with a seal frame: a new one must be started. */
  sealed: boolean;
  positions: Map<string, string>;
  torn: { offset: number; bytes: number; reason: string } | null;
  /**
   * The segment before the active one, when it was sealed in data format 2 or later and is not
   * stored compressed yet: a compression the last run did not get to.
   */
  uncompressedPrev: SegmentEntry | null;
  /**
   * The segment has no commit frame yet (written before data format 2, or its first one was
   * cut off): the writer must end what it holds with one before it adds a group.
   */
  needsCommitMark: boolean;
}

const decoder = new TextDecoder();

/** Applies a position or seal frame body to the positions map. */
export function applyPositionFrame(
  type: number,
  body: Uint8Array,
  positions: Map<string, string>,
): void {
  const v = JSON.parse(decoder.decode(body));
  if (type === FRAME_POSITION) positions.set(v.source, v.pos);
  else if (type === FRAME_SEAL) {
    for (const [k, p] of Object.entries(v.positions as Record<string, string>)) positions.set(k, p);
  }
}

/**
 * Positions recorded in the seal frame of a sealed segment, and whether it holds commit frames
 * (it was written in data format 2 or later).
 */
async function sealPositions(
  entry: SegmentEntry,
): Promise<{ positions: Map<string, string>; commits: boolean }> {
  const { bytes, start } = await sealedTail(entry);
  const positions = new Map<string, string>();
  let last = -1;
  let commits = false;
  let lastFrame = { payload: 0, length: 0 };
  const stop = scanFrames(bytes, start, bytes.length, (f) => {
    last = f.type;
    lastFrame = f;
    if (f.type === FRAME_COMMIT) commits = true;
  });
  if (stop.kind !== "end" || last !== FRAME_SEAL) {
    throw new StoreDamageError("sealed segment does not end with its seal record", {
      segment: entry.name,
      offset: stop.kind === "end" ? bytes.length : stop.offset,
    });
  }
  const p = lastFrame.payload + CHAIN_SIZE + 1;
  applyPositionFrame(
    FRAME_SEAL,
    bytes.subarray(p, lastFrame.payload + lastFrame.length),
    positions,
  );
  return { positions, commits };
}

/**
 * The part of a sealed segment that holds its seal record, and where its records start: a
 * compressed segment's last block alone (blocks start at records, and the seal is the last one),
 * so that opening the store does not decompress a whole segment; an uncompressed one whole.
 */
async function sealedTail(entry: SegmentEntry): Promise<{ bytes: Uint8Array; start: number }> {
  if (entry.compressed) {
    try {
      using file = await Deno.open(entry.path, { read: true });
      const { blocks } = await readBlockTable(file);
      const lastBlock = blocks[blocks.length - 1]!;
      const packed = await readBlockBytes(file, lastBlock);
      const bytes = decompressBlock(packed, { ...lastBlock, compOffset: 0 }, blocks.length - 1);
      return { bytes, start: lastBlock.rawOffset === 0 ? HEADER_SIZE : 0 };
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      throw new StoreDamageError(e.message, { segment: entry.name, offset: 0 });
    }
  }
  return { bytes: (await loadSegment(entry)).bytes, start: HEADER_SIZE };
}

/**
 * Reads the last segment back (into `buffer` when given: the state's `segment.bytes` then views
 * it until its next use). `maxTornBytes` bounds what can be a torn tail: one group commit's
 * worth. A longer cut, or a bad record followed by more data, is damage.
 *
 * In a segment written with commit frames (`frame.ts`), the log ends at the last commit or seal
 * frame: whole records after it belong to a group whose write was cut short, and go with the
 * torn tail — events and position records together, so that the stored position of every
 * source still covers exactly the events stored for it.
 */
export async function recoverActive(
  segments: SegmentEntry[],
  opts: { maxTornBytes: number; buffer?: SegmentBuffer },
): Promise<ActiveState> {
  const last = segments[segments.length - 1]!;
  const prev = segments[segments.length - 2];
  const before = prev ? await sealPositions(prev) : null;
  const positions = before?.positions ?? new Map<string, string>();
  const seg = await loadSegment(last, opts.buffer ? { buffer: opts.buffer } : {});
  const buf = seg.bytes;
  const r = checkChunk({
    buf,
    start: HEADER_SIZE,
    end: buf.length,
    firstSeq: seg.header.firstSeq,
    prevChain: seg.header.prevChain,
    chainsAt: [],
  });
  if (r.problem) {
    throw new StoreDamageError(r.problem.reason, {
      segment: last.name,
      offset: r.problem.offset,
      seq: r.problem.seq,
    });
  }
  let nextSeq = seg.header.firstSeq + r.count;
  let torn: ActiveState["torn"] = null;
  let size = buf.length;
  if (r.stop.kind !== "end") {
    const rest = buf.length - r.stop.offset;
    if (!isTailLike(buf, r.stop) || rest > opts.maxTornBytes) {
      throw new StoreDamageError(`${r.stop.reason}, with ${rest} bytes after it`, {
        segment: last.name,
        offset: r.stop.offset,
        seq: nextSeq,
      });
    }
    torn = { offset: r.stop.offset, bytes: rest, reason: r.stop.reason };
    size = r.stop.offset;
  }
  // Records are verified; now find the last whole group and read the positions it carries.
  const groups = committedGroups(buf, size, seg.header.firstSeq, last.name, positions);
  let chain = r.endChain;
  if (groups.committed !== null && groups.committed.end < size) {
    const { end, seq } = groups.committed;
    const rest = buf.length - end;
    const cut = `${groups.uncommittedRecords} whole records (${nextSeq - seq} events) of a ` +
      `group commit that a crash cut short${torn ? `, then ${torn.reason}` : ""}`;
    if (rest > opts.maxTornBytes) {
      throw new StoreDamageError(`${cut}: ${rest} bytes, more than one group commit`, {
        segment: last.name,
        offset: end,
        seq,
      });
    }
    torn = { offset: end, bytes: rest, reason: cut };
    size = end;
    nextSeq = seq;
    chain = groups.committed.chain;
  }
  const sealed = r.sealAt >= 0;
  return {
    segment: seg,
    size,
    nextSeq,
    chain,
    sealed,
    positions,
    torn,
    needsCommitMark: groups.committed === null && !sealed,
    uncompressedPrev: prev && before?.commits && !prev.compressed ? prev : null,
  };
}

/**
 * Walks the whole records of `buf[HEADER_SIZE..size)` and applies to `positions` the position
 * records of every group that was committed whole. `committed` is where the last commit or seal
 * frame ends, with the seq and chain head there; null for a segment without commit frames
 * (written before data format 2, or cut before its first), where every record stands alone.
 */
function committedGroups(
  buf: Uint8Array,
  size: number,
  firstSeq: number,
  segment: string,
  positions: Map<string, string>,
): {
  committed: { end: number; seq: number; chain: Uint8Array } | null;
  uncommittedRecords: number;
} {
  let seq = firstSeq;
  let committed: { end: number; seq: number; chain: Uint8Array } | null = null;
  let pending: { type: number; body: Uint8Array }[] = [];
  let records = 0;
  scanFrames(buf, HEADER_SIZE, size, (f) => {
    records++;
    if (f.type === FRAME_EVENT) {
      seq++;
      return;
    }
    const body = buf.subarray(f.payload + CHAIN_SIZE + 1, f.payload + f.length);
    if (f.type === FRAME_POSITION) {
      pending.push({ type: f.type, body });
      return;
    }
    if (f.type === FRAME_COMMIT) {
      const claimed = commitFields(body, 0, body.length)?.nextSeq ?? NaN;
      if (claimed !== seq) {
        throw new StoreDamageError(
          `commit record says the next seq is ${claimed}, but the records before it end at ${seq}`,
          { segment, offset: f.offset, seq },
        );
      }
    } else pending.push({ type: f.type, body });
    for (const p of pending) applyPositionFrame(p.type, p.body, positions);
    pending = [];
    committed = {
      end: f.payload + f.length,
      seq,
      chain: buf.slice(f.payload, f.payload + CHAIN_SIZE),
    };
    records = 0;
  });
  if (committed === null) {
    // No commit frames: every record stands alone, as before data format 2.
    for (const p of pending) applyPositionFrame(p.type, p.body, positions);
    records = 0;
  }
  return { committed, uncommittedRecords: records };
}
