/**
 * What the store does on open: read the active (last) segment back, check every record's CRC,
 * seq and chain link, and find where the log really ends. A torn tail — the last write cut off
 * by a crash — is truncated to the last whole record and reported. Anything else that is wrong
 * is damage and is thrown, never repaired.
 */

import {
  CHAIN_SIZE,
  FRAME_EVENT,
  FRAME_POSITION,
  FRAME_SEAL,
  HEADER_SIZE,
  isTailLike,
  scanFrames,
} from "./frame.ts";
import { StoreDamageError } from "./errors.ts";
import { type LoadedSegment, loadSegment, type SegmentEntry } from "./segment_file.ts";
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

/** Positions recorded in the seal frame of a sealed segment. */
async function sealPositions(entry: SegmentEntry): Promise<Map<string, string>> {
  const seg = await loadSegment(entry);
  const positions = new Map<string, string>();
  let last = -1;
  let lastFrame = { payload: 0, length: 0 };
  const stop = scanFrames(seg.bytes, HEADER_SIZE, seg.bytes.length, (f) => {
    last = f.type;
    lastFrame = f;
  });
  if (stop.kind !== "end" || last !== FRAME_SEAL) {
    throw new StoreDamageError("sealed segment does not end with its seal record", {
      segment: entry.name,
      offset: stop.kind === "end" ? seg.bytes.length : stop.offset,
    });
  }
  const p = lastFrame.payload + CHAIN_SIZE + 1;
  applyPositionFrame(
    FRAME_SEAL,
    seg.bytes.subarray(p, lastFrame.payload + lastFrame.length),
    positions,
  );
  return positions;
}

/**
 * Reads the last segment back. `maxTornBytes` bounds what can be a torn tail: one group commit's
 * worth. A longer cut, or a bad record followed by more data, is damage.
 */
export async function recoverActive(
  segments: SegmentEntry[],
  opts: { maxTornBytes: number },
): Promise<ActiveState> {
  const last = segments[segments.length - 1]!;
  const prev = segments[segments.length - 2];
  const positions = prev ? await sealPositions(prev) : new Map<string, string>();
  const seg = await loadSegment(last);
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
  const nextSeq = seg.header.firstSeq + r.count;
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
  // Records are verified; now read the positions they carry.
  scanFrames(buf, HEADER_SIZE, size, (f) => {
    if (f.type === FRAME_EVENT) return;
    applyPositionFrame(
      f.type,
      buf.subarray(f.payload + CHAIN_SIZE + 1, f.payload + f.length),
      positions,
    );
  });
  const chain = r.endChain;
  const sealed = r.sealAt >= 0;
  return { segment: seg, size, nextSeq, chain, sealed, positions, torn };
}
