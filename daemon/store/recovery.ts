/**
 * What the store does on open: read the active (last) segment back, check every record's CRC,
 * seq and chain link, and find where the log really ends. A torn tail — the last write cut off
 * by a crash — is truncated to the last whole record and reported. Anything else that is wrong
 * is damage and is thrown, never repaired.
 */

import {
  allZero,
  CHAIN_SIZE,
  FRAME_EVENT,
  FRAME_OVERHEAD,
  FRAME_POSITION,
  FRAME_SEAL,
  HEADER_SIZE,
  peekSeq,
  scanFrames,
} from "./frame.ts";
import { StoreDamageError } from "./errors.ts";
import { type LoadedSegment, loadSegment, type SegmentEntry } from "./segment_file.ts";
import { sha256Into } from "./sha256.ts";

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
  let nextSeq = seg.header.firstSeq;
  const chain = seg.header.prevChain.slice();
  const link = new Uint8Array(64);
  const computed = new Uint8Array(32);
  let sealed = false;
  const stop = scanFrames(buf, HEADER_SIZE, buf.length, (f) => {
    const place = { segment: last.name, offset: f.offset };
    if (sealed) throw new StoreDamageError("record after the seal record", place);
    if (f.type === FRAME_EVENT) {
      const body = f.payload + CHAIN_SIZE + 1;
      const end = f.payload + f.length;
      const seq = peekSeq(buf, body, end);
      if (seq !== nextSeq) {
        throw new StoreDamageError(`seq ${seq} where ${nextSeq} was due`, {
          ...place,
          seq: nextSeq,
        });
      }
      link.set(chain, 0);
      sha256Into(buf.subarray(f.payload + CHAIN_SIZE, end), link, 32);
      sha256Into(link, computed, 0);
      for (let i = 0; i < 32; i++) {
        if (computed[i] !== buf[f.payload + i]) {
          throw new StoreDamageError("chain hash mismatch", { ...place, seq });
        }
      }
      chain.set(computed);
      nextSeq++;
    } else {
      for (let i = 0; i < 32; i++) {
        if (chain[i] !== buf[f.payload + i]) {
          throw new StoreDamageError("chain head in a position record does not match", place);
        }
      }
      const body = buf.subarray(f.payload + CHAIN_SIZE + 1, f.payload + f.length);
      applyPositionFrame(f.type, body, positions);
      if (f.type === FRAME_SEAL) sealed = true;
    }
  });
  let torn: ActiveState["torn"] = null;
  let size = buf.length;
  if (stop.kind !== "end") {
    const dv = new DataView(buf.buffer, buf.byteOffset);
    const rest = buf.length - stop.offset;
    const frameEnd = rest >= FRAME_OVERHEAD
      ? stop.offset + FRAME_OVERHEAD + dv.getUint32(stop.offset)
      : buf.length;
    const tornLike = stop.kind === "partial" || allZero(buf, stop.offset, buf.length) ||
      frameEnd === buf.length;
    if (!tornLike || rest > opts.maxTornBytes) {
      throw new StoreDamageError(`${stop.reason}, with ${rest} bytes after it`, {
        segment: last.name,
        offset: stop.offset,
        seq: nextSeq,
      });
    }
    torn = { offset: stop.offset, bytes: rest, reason: stop.reason };
    size = stop.offset;
  }
  return { segment: seg, size, nextSeq, chain, sealed, positions, torn };
}
