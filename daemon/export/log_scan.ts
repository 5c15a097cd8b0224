/**
 * The log as an export reads it: one segment at a time, as the segment's bytes and the offsets
 * of the event frames of the seqs asked for, with nothing decoded. An export needs each event's
 * canonical bytes (they are the Merkle leaf data and what its Parquet row rebuilds), its source
 * and time (its partition) and its chain hash — all in the frame — so it never builds the event
 * objects that `readLog` makes of a whole segment at once: memory stays at one segment (64 MiB
 * at most) however long the range. Read-only and safe while a writer appends.
 *
 * Only seqs under a signed checkpoint are asked for, and a writer signs only committed groups,
 * so every frame walked here is committed: commit and position frames are stepped over, and the
 * walk stops at the last seq asked for, before any group still being written.
 */

import { StoreDamageError } from "../store/errors.ts";
import { checkDataFormat } from "../store/format.ts";
import {
  CHAIN_SIZE,
  FRAME_EVENT,
  FRAME_OVERHEAD,
  HEADER_SIZE,
  MAX_PAYLOAD,
  MIN_PAYLOAD,
} from "../store/frame.ts";
import { listSegments, loadSegment } from "../store/segment_file.ts";
import { storePaths } from "../store/store_open.ts";

/** The frames of seqs [firstSeq, firstSeq + count) in one segment. */
export interface SegmentSlice {
  /** The segment's name, for errors. */
  segment: string;
  buf: Uint8Array;
  firstSeq: number;
  count: number;
  /** Offset of each event frame's length field; only `count` are used. */
  frames: Int32Array;
  /** Byte range of the frames, from the first event to the end of the last. */
  start: number;
  end: number;
  /** The chain head before `firstSeq`: the header's, or the frame before `start`'s. */
  prevChain: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** From a frame's offset: its chain hash (the head after it) and its event's canonical JSON. */
export const CHAIN_AT = FRAME_OVERHEAD;
export const BODY_AT = FRAME_OVERHEAD + CHAIN_SIZE + 1;

/**
 * Yields the events with seqs in [fromSeq, toSeq), a segment at a time, in seq order. The
 * frames are walked by their lengths only; CRCs, seqs and chain links are for the caller to
 * check (`checkChunk`). Throws StoreDamageError when the log does not hold every seq asked for.
 * The yielded slice is one object, reused: valid until the next one is asked for, when it lets go
 * of its segment before the next is read, so that at most one segment is held at a time.
 */
export async function* scanLog(
  dataDir: string,
  opts: { fromSeq: number; toSeq: number },
): AsyncGenerator<SegmentSlice> {
  const { fromSeq, toSeq } = opts;
  await checkDataFormat(dataDir);
  const segments = await listSegments(storePaths(dataDir).segments);
  const slice: SegmentSlice = {
    segment: "",
    buf: EMPTY,
    firstSeq: 0,
    count: 0,
    frames: new Int32Array(64 * 1024),
    start: 0,
    end: 0,
    prevChain: EMPTY,
  };
  let next = fromSeq;
  for (let i = 0; i < segments.length && next < toSeq; i++) {
    const following = segments[i + 1];
    if (following && following.firstSeq <= next) continue;
    if (segments[i]!.firstSeq > next) break; // a hole: reported below
    releaseBuffer(slice.buf);
    slice.buf = EMPTY;
    const seg = await loadSegment(segments[i]!);
    const buf = seg.bytes;
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let seq = seg.header.firstSeq;
    let off = HEADER_SIZE;
    let start = -1, end = -1, count = 0;
    let frames = slice.frames;
    let prevChain = seg.header.prevChain;
    while (seq < toSeq && off + FRAME_OVERHEAD <= buf.length) {
      const len = dv.getUint32(off);
      if (len < MIN_PAYLOAD || len > MAX_PAYLOAD || off + FRAME_OVERHEAD + len > buf.length) {
        break; // the end of what was written, or damage: the count tells below
      }
      const isEvent = buf[off + FRAME_OVERHEAD + CHAIN_SIZE] === FRAME_EVENT;
      if (isEvent && seq >= next) {
        if (count === 0) start = off;
        if (count === frames.length) {
          const grown = new Int32Array(frames.length * 2);
          grown.set(frames);
          frames = grown;
        }
        frames[count++] = off;
        end = off + FRAME_OVERHEAD + len;
      } else if (count === 0) {
        // The chain field of every frame is the chain head after it.
        prevChain = buf.subarray(off + FRAME_OVERHEAD, off + FRAME_OVERHEAD + CHAIN_SIZE);
      }
      if (isEvent) seq++;
      off += FRAME_OVERHEAD + len;
    }
    if (count === 0) continue;
    Object.assign(slice, {
      segment: seg.entry.name,
      buf,
      firstSeq: next,
      count,
      frames,
      start,
      end,
    });
    slice.prevChain = prevChain.slice();
    yield slice;
    next += count;
    // A segment that ends before the next one begins has lost events: reported below.
    if (seq < toSeq && following && following.firstSeq !== seq) break;
  }
  releaseBuffer(slice.buf);
  if (next < toSeq) {
    throw new StoreDamageError(`Cannot export: the log ends at seq ${next}, before seq ${toSeq}`);
  }
}

/**
 * Frees a large buffer's memory now rather than at the next full garbage collection, which V8
 * runs late for memory outside its heap: three or four 64 MiB segments were held at once
 * otherwise. Only for a buffer nothing else uses: `loadSegment` reads each segment into a buffer
 * of its own and this module hands out no view of it that outlives the slice. A view of part of
 * a buffer is left to the collector.
 */
export function releaseBuffer(buf: Uint8Array): void {
  const whole = buf.buffer;
  if (!(whole instanceof ArrayBuffer) || buf.byteOffset !== 0) return;
  if (buf.byteLength !== whole.byteLength || whole.byteLength === 0) return;
  whole.transfer(0);
}
