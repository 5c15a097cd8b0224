/**
 * Taking single events out of a run of whole frames, for the seq reader's segment maps
 * (`segment_map.ts` for plain segments, `compressed_map.ts` for compressed ones): what both
 * promise about a record they return — its CRC is right and its body names the seq it was read
 * as — is decided here, once.
 */

import type { AuditEvent } from "../event/model.ts";
import { crc32c } from "./crc32c.ts";
import { StoreDamageError } from "./errors.ts";
import { nativeHash } from "./native_hash.ts";
import { BODY_AT, CHAIN_SIZE, FRAME_EVENT, FRAME_OVERHEAD, MIN_PAYLOAD, peekSeq } from "./frame.ts";
import type { SegmentEntry } from "./segment_file.ts";
import { readAt, readAtSync } from "./file_read.ts";

export { readAt, readAtSync };

/** One event read back from the log by seq. */
export interface SeqRecord {
  seq: number;
  event: AuditEvent;
  /** The canonical JSON text as stored (the Merkle leaf data). */
  json: string;
}

/** What the seq reader needs of the map of one segment, plain or compressed. */
export interface SeqMap {
  readonly entry: SegmentEntry;
  /** The seq after the last event mapped. */
  readonly end: number;
  /** No more events will appear in this segment. */
  readonly complete: boolean;
  /** Memory held, roughly, for the reader's cache budget. */
  readonly bytes: number;
  /** Maps what the file holds beyond the last call; `last`: the log's newest segment. */
  extend(last: boolean): Promise<void>;
  /** The events of `seqs` (ascending, each mapped already), in that order. */
  read(seqs: readonly number[]): Promise<SeqRecord[]>;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Where a buffer of frames came from, for naming the place of damage. */
export interface FramesAt {
  segment: string;
  /** Offset in the (uncompressed) segment of `buf[0]`. */
  base: number;
}

/**
 * Walks the whole frames of `buf` from `start`, the first event frame among them having seq
 * `seq`, up to the event of seq `stop` (exclusive) or the end of the buffer, and decodes the
 * events for which `want(seq)` holds. A frame that does not fit, a bad CRC, or a body that
 * names another seq throws StoreDamageError with the segment, offset and seq of the first
 * such frame.
 *
 * The wanted frames' CRCs are checked in one call into the native library where it is loaded
 * (`native_hash.ts`): 0.02 µs an event, where the TypeScript CRC took 0.23 (frames of the scale
 * bench's size), about a twelfth of reading an event.
 */
export function eventsIn(
  buf: Uint8Array,
  walk: { start: number; seq: number; stop: number; want: (seq: number) => boolean },
  at: FramesAt,
): SeqRecord[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let seq = walk.seq;
  let off = walk.start;
  let n = 0;
  while (off + FRAME_OVERHEAD <= buf.length && seq < walk.stop) {
    const len = dv.getUint32(off);
    const p = off + FRAME_OVERHEAD;
    if (len < MIN_PAYLOAD || p + len > buf.length) {
      // A wanted frame before this one may be damaged too: the first damage is the one named.
      decodeWanted(buf, dv, n, at);
      throw new StoreDamageError(`impossible frame length ${len}`, {
        segment: at.segment,
        offset: at.base + off,
        seq,
      });
    }
    if (buf[p + CHAIN_SIZE] === FRAME_EVENT) {
      const s = seq++;
      if (walk.want(s)) {
        if (n === wantedAt.length) grow();
        wantedAt[n] = off;
        wantedSeq[n++] = s;
        const claimed = peekSeq(buf, p + CHAIN_SIZE + 1, p + len);
        if (claimed !== s) {
          // Damage in a frame before this one, or this one's CRC, is named first.
          decodeWanted(buf, dv, n - 1, at);
          checkCrcs(buf, n, at);
          throw new StoreDamageError(`event body carries seq ${claimed}, expected ${s}`, {
            segment: at.segment,
            offset: at.base + off,
            seq: s,
          });
        }
      }
    }
    off = p + len;
  }
  return decodeWanted(buf, dv, n, at);
}

/**
 * The first `n` wanted frames decoded, their CRCs checked first. Bodies are gathered a group at a
 * time (up to {@link GROUP_EVENTS} events, {@link GROUP_BYTES} bytes) and turned into text by one
 * call of the decoder: a call per event cost ~0.5 µs, a fifth of reading an event of the scale
 * mix. When the group's text is as long as its bytes, every byte is ASCII, so each body's text is
 * the slice at its own byte offsets, exactly what decoding it alone gives; otherwise (a multi-byte
 * character, or bytes that are not UTF-8) the group's events are decoded one by one, as before,
 * which also names the frame that does not decode.
 */
function decodeWanted(buf: Uint8Array, dv: DataView, n: number, at: FramesAt): SeqRecord[] {
  checkCrcs(buf, n, at);
  const out: SeqRecord[] = new Array(n);
  for (let i = 0; i < n;) {
    let j = i, w = 0;
    while (j < n && j - i < GROUP_EVENTS) {
      const off = wantedAt[j]!, start = off + BODY_AT, len = bodyLength(dv, off);
      if (w + len > GROUP_BYTES) break;
      gather.set(buf.subarray(start, start + len), w);
      w += len;
      j++;
    }
    if (j === i) {
      // A body larger than a group: decoded alone, from the frames as they are.
      out[i] = decodeFrame(buf, dv, { off: wantedAt[i]!, seq: wantedSeq[i]! }, at);
      i++;
      continue;
    }
    let text: string | null = null;
    try {
      text = decoder.decode(gather.subarray(0, w));
    } catch { /* not UTF-8: decoded one by one below, which names the frame */ }
    if (text !== null && text.length === w) {
      for (let k = i, p = 0; k < j; k++) {
        const off = wantedAt[k]!, len = bodyLength(dv, off);
        out[k] = parseFrame(text.slice(p, p + len), off, wantedSeq[k]!, at);
        p += len;
      }
    } else {
      for (let k = i; k < j; k++) {
        out[k] = decodeFrame(buf, dv, { off: wantedAt[k]!, seq: wantedSeq[k]! }, at);
      }
    }
    i = j;
  }
  return out;
}

/** The length of the body of the event frame at `off`. */
function bodyLength(dv: DataView, off: number): number {
  return dv.getUint32(off) - MIN_PAYLOAD;
}

/** Events whose bodies {@link decodeWanted} decodes in one call, at most. */
const GROUP_EVENTS = 64;
/**
 * Bytes of bodies it decodes in one call, at most: a record's text is a slice of its group's,
 * which it keeps alive while it lives. A larger body is decoded alone, so that the buffer below
 * stays this size whatever statement the log holds.
 */
const GROUP_BYTES = 16384;

/** The bodies of a group, gathered. */
const gather = new Uint8Array(GROUP_BYTES);

/** Offsets and seqs of the frames `eventsIn` decodes, reused from call to call. */
let wantedAt = new Int32Array(4096);
let wantedSeq = new Float64Array(4096);

function grow(): void {
  const at = new Int32Array(wantedAt.length * 2), seqs = new Float64Array(wantedSeq.length * 2);
  at.set(wantedAt);
  seqs.set(wantedSeq);
  wantedAt = at;
  wantedSeq = seqs;
}

/**
 * The index of the first of the `count` frames at `frames` (offsets into `buf`) whose CRC is
 * wrong or that does not lie within `buf`, or `count`: the TypeScript twin of the native
 * `checkCrcs`.
 */
export function firstBadCrcJs(buf: Uint8Array, frames: Int32Array, count: number): number {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < count; i++) {
    const off = frames[i]!, p = off + FRAME_OVERHEAD;
    if (off < 0 || p > buf.length) return i;
    const len = dv.getUint32(off);
    if (len > buf.length - p || crc32c(buf, p, p + len) !== dv.getUint32(off + 4)) return i;
  }
  return count;
}

const firstBadCrc = nativeHash?.checkCrcs ?? firstBadCrcJs;

/**
 * Throws StoreDamageError for the first of the `n` wanted frames whose CRC is wrong, unless a frame
 * before it cannot be decoded: that one is named, as a read frame by frame would.
 */
function checkCrcs(buf: Uint8Array, n: number, at: FramesAt): void {
  const bad = n === 0 ? 0 : firstBadCrc(buf, wantedAt, n);
  if (bad < n) {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let i = 0; i < bad; i++) {
      decodeFrame(buf, dv, { off: wantedAt[i]!, seq: wantedSeq[i]! }, at);
    }
    throw new StoreDamageError("CRC-32C mismatch", {
      segment: at.segment,
      offset: at.base + wantedAt[bad]!,
      seq: wantedSeq[bad]!,
    });
  }
}

function decodeFrame(
  buf: Uint8Array,
  dv: DataView,
  f: { off: number; seq: number },
  at: FramesAt,
): SeqRecord {
  const bodyStart = f.off + BODY_AT, bodyEnd = bodyStart + bodyLength(dv, f.off);
  let json: string;
  try {
    json = decoder.decode(buf.subarray(bodyStart, bodyEnd));
  } catch (e) {
    throw undecodable(e, f.off, f.seq, at);
  }
  return parseFrame(json, f.off, f.seq, at);
}

/** The record of a frame's decoded body; StoreDamageError when it is not JSON. */
function parseFrame(json: string, off: number, seq: number, at: FramesAt): SeqRecord {
  try {
    return { seq, event: JSON.parse(json) as AuditEvent, json };
  } catch (e) {
    throw undecodable(e, off, seq, at);
  }
}

function undecodable(e: unknown, off: number, seq: number, at: FramesAt): StoreDamageError {
  const place = { segment: at.segment, offset: at.base + off, seq };
  return new StoreDamageError(`undecodable event: ${(e as Error).message}`, place);
}
