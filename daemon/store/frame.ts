/**
 * The on-disk format of a segment: a 64-byte header, then framed records.
 *
 * Header: magic "VIGILSG1" | first seq u64 | chain head before the first record (32 bytes) |
 * created µs u64 | 4 reserved zero bytes | CRC-32C of the preceding 60 bytes. Big-endian.
 *
 * Frame: payload length u32 | CRC-32C(payload) u32 | payload, where payload is
 * chain hash (32) | type (1) | body. For an event (type 0x00) the body is the event's canonical
 * JSON, so `payload[32..]` is exactly RFC 9162's leaf input 0x00 ‖ data and is hashed in place,
 * and the chain hash is SHA-256(previous chain ‖ leaf hash). Position (0x01), seal (0x02) and
 * commit (0x03) frames carry the current chain head unchanged and are not Merkle leaves.
 *
 * Commit frames (data format 2 on) make a group commit atomic. The writer ends every group it
 * writes with one, body `{"next_seq":N}`, and starts every segment it creates with one, so a
 * segment that holds any commit frame was written this way: whatever follows its last commit
 * (or seal) frame is a group whose write a crash cut short — even when the cut fell between two
 * whole records — and is dropped on recovery, its events and its position records together.
 * Without that, a kill -9 in the middle of a large write kept the first events of a batch
 * without the position after them, and the source sent them again: stored twice.
 */

import { crc32c } from "./crc32c.ts";

export const SEGMENT_MAGIC = "VIGILSG1";
export const HEADER_SIZE = 64;
export const FRAME_OVERHEAD = 8;
export const CHAIN_SIZE = 32;
/** Smallest payload: a chain hash and a type byte. */
export const MIN_PAYLOAD = CHAIN_SIZE + 1;
/** Largest payload accepted: bounds memory per record and tells a wild length from a real one. */
export const MAX_PAYLOAD = 64 * 1024 * 1024;
/** Where an event frame's body (its canonical JSON) starts, from the frame's offset. */
export const BODY_AT = FRAME_OVERHEAD + MIN_PAYLOAD;

export const FRAME_EVENT = 0x00;
export const FRAME_POSITION = 0x01;
export const FRAME_SEAL = 0x02;
export const FRAME_COMMIT = 0x03;
/** The highest frame type this release knows. */
export const FRAME_LAST_TYPE = FRAME_COMMIT;

/** The chain head of an empty log. */
export const GENESIS_CHAIN: Uint8Array = new Uint8Array(32);

/** A segment header as decoded. */
export interface SegmentHeader {
  firstSeq: number;
  prevChain: Uint8Array;
  createdUs: number;
}

/** Encodes a segment header. */
export function encodeHeader(h: SegmentHeader): Uint8Array {
  const buf = new Uint8Array(HEADER_SIZE);
  const dv = new DataView(buf.buffer);
  buf.set(new TextEncoder().encode(SEGMENT_MAGIC), 0);
  dv.setBigUint64(8, BigInt(h.firstSeq));
  buf.set(h.prevChain, 16);
  dv.setBigUint64(48, BigInt(h.createdUs));
  dv.setUint32(60, crc32c(buf, 0, 60));
  return buf;
}

/** Decodes a segment header; throws SyntaxError naming what is wrong. */
export function decodeHeader(buf: Uint8Array): SegmentHeader {
  if (buf.length < HEADER_SIZE) {
    throw new SyntaxError(`segment header is ${buf.length} bytes, expected ${HEADER_SIZE}`);
  }
  const magic = new TextDecoder().decode(buf.subarray(0, 8));
  if (magic !== SEGMENT_MAGIC) throw new SyntaxError(`bad segment magic ${JSON.stringify(magic)}`);
  const dv = new DataView(buf.buffer, buf.byteOffset, HEADER_SIZE);
  if (dv.getUint32(60) !== crc32c(buf, 0, 60)) throw new SyntaxError("segment header CRC mismatch");
  return {
    firstSeq: Number(dv.getBigUint64(8)),
    prevChain: buf.slice(16, 48),
    createdUs: Number(dv.getBigUint64(48)),
  };
}

/** One frame found by `scanFrames`. Offsets are relative to the scanned buffer. */
export interface FrameView {
  /** Offset of the frame's length field. */
  offset: number;
  /** Offset of the payload (chain hash). */
  payload: number;
  /** Payload length. */
  length: number;
  type: number;
}

/** Why scanning stopped before the end of the buffer. */
export type ScanStop =
  | { kind: "end" }
  | { kind: "partial"; offset: number; reason: string }
  | { kind: "bad"; offset: number; reason: string };

/**
 * Walks the frames of `buf[start..end)`, calling `onFrame` for each whole frame with a good CRC.
 * Stops at the first frame that is cut off by `end` ("partial") or malformed ("bad"); the
 * caller decides whether that is a torn tail, a write in flight, or damage.
 */
export function scanFrames(
  buf: Uint8Array,
  start: number,
  end: number,
  onFrame: (f: FrameView) => void,
): ScanStop {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = start;
  while (off < end) {
    if (end - off < FRAME_OVERHEAD) {
      return { kind: "partial", offset: off, reason: `${end - off} bytes of a frame header` };
    }
    const len = dv.getUint32(off);
    if (len < MIN_PAYLOAD || len > MAX_PAYLOAD) {
      return { kind: "bad", offset: off, reason: `impossible frame length ${len}` };
    }
    const p = off + FRAME_OVERHEAD;
    if (p + len > end) {
      return {
        kind: "partial",
        offset: off,
        reason: `frame of ${len} bytes cut off after ${end - p}`,
      };
    }
    if (crc32c(buf, p, p + len) !== dv.getUint32(off + 4)) {
      return { kind: "bad", offset: off, reason: "CRC-32C mismatch" };
    }
    const type = buf[p + CHAIN_SIZE]!;
    if (type > FRAME_LAST_TYPE) {
      return { kind: "bad", offset: off, reason: `unknown frame type ${type}` };
    }
    onFrame({ offset: off, payload: p, length: len, type });
    off = p + len;
  }
  return { kind: "end" };
}

/** True when every byte of `buf[start..end)` is zero: what a file system leaves after a crash. */
export function allZero(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Whether what stopped a scan at `stop.offset` can be the end of an unfinished or torn write
 * rather than damage: a frame cut off by the end of the data, a zero-filled end (what a file
 * system leaves after a crash), or a bad frame that is the very last thing in the file.
 */
export function isTailLike(buf: Uint8Array, stop: Exclude<ScanStop, { kind: "end" }>): boolean {
  if (stop.kind === "partial" || allZero(buf, stop.offset, buf.length)) return true;
  const rest = buf.length - stop.offset;
  if (rest < FRAME_OVERHEAD) return true;
  const len = new DataView(buf.buffer, buf.byteOffset).getUint32(stop.offset);
  return stop.offset + FRAME_OVERHEAD + len === buf.length;
}

const SEQ_PREFIX = new TextEncoder().encode('{"seq":');

/**
 * Reads the `seq` of an event body without parsing the JSON: canonical JSON always starts with
 * `{"seq":<digits>`. Returns -1 when the body does not.
 */
export function peekSeq(buf: Uint8Array, bodyStart: number, bodyEnd: number): number {
  for (let i = 0; i < SEQ_PREFIX.length; i++) {
    if (buf[bodyStart + i] !== SEQ_PREFIX[i]) return -1;
  }
  let n = 0;
  let i = bodyStart + SEQ_PREFIX.length;
  const first = i;
  for (; i < bodyEnd; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  if (i === first || i - first > 16 || (buf[first] === 48 && i - first > 1)) return -1;
  return n;
}

/** The file name of the segment whose first record has `firstSeq`. */
export function segmentName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(20, "0")}.vseg`;
}

/** The first seq encoded in a segment file name, or null for other names. */
export function parseSegmentName(name: string): number | null {
  const m = /^seg-(\d{20})\.vseg$/.exec(name);
  return m ? Number(m[1]) : null;
}

const encoder = new TextEncoder();

/**
 * A whole commit frame: the chain head after the group it ends, `{"next_seq":N}` and, once a
 * checkpoint was signed, `"signed":S`, its size; with its CRC. Groups framed for the hash Worker
 * get theirs from `commitBody` instead.
 */
export function encodeCommitFrame(chain: Uint8Array, nextSeq: number, signed = 0): Uint8Array {
  const body = commitBody(nextSeq, signed);
  const len = CHAIN_SIZE + 1 + body.length;
  const frame = new Uint8Array(FRAME_OVERHEAD + len);
  frame.set(chain, FRAME_OVERHEAD);
  frame[FRAME_OVERHEAD + CHAIN_SIZE] = FRAME_COMMIT;
  frame.set(body, FRAME_OVERHEAD + CHAIN_SIZE + 1);
  const dv = new DataView(frame.buffer);
  dv.setUint32(0, len);
  dv.setUint32(4, crc32c(frame, FRAME_OVERHEAD, frame.length));
  return frame;
}

/**
 * The body of a commit frame: the seq the next group starts at and the size of the latest signed
 * checkpoint when it was written (omitted before the first). `verify` holds the checkpoints file
 * to the largest such size: signed checkpoints that existed cannot be deleted unnoticed.
 */
export function commitBody(nextSeq: number, signed = 0): Uint8Array {
  return encoder.encode(
    JSON.stringify(signed > 0 ? { next_seq: nextSeq, signed } : { next_seq: nextSeq }),
  );
}

/**
 * What a commit frame's body says: the next seq and the signed size (0 when it states none);
 * null when it is not a commit body.
 */
export function commitFields(
  buf: Uint8Array,
  bodyStart: number,
  bodyEnd: number,
): { nextSeq: number; signed: number } | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(buf.subarray(bodyStart, bodyEnd)));
    if (typeof v?.next_seq !== "number") return null;
    const signed = typeof v.signed === "number" && Number.isSafeInteger(v.signed) ? v.signed : 0;
    return { nextSeq: v.next_seq, signed };
  } catch {
    return null;
  }
}

/** The `signed` size a commit frame's body states, 0 when none (or not a commit body). */
export function commitSigned(buf: Uint8Array, bodyStart: number, bodyEnd: number): number {
  return commitFields(buf, bodyStart, bodyEnd)?.signed ?? 0;
}
