/**
 * Taking single events out of a run of whole frames, for the seq reader's segment maps
 * (`segment_map.ts` for plain segments, `compressed_map.ts` for compressed ones): what both
 * promise about a record they return — its CRC is right and its body names the seq it was read
 * as — is decided here, once.
 */

import type { AuditEvent } from "../event/model.ts";
import { crc32c } from "./crc32c.ts";
import { StoreDamageError } from "./errors.ts";
import { CHAIN_SIZE, FRAME_EVENT, FRAME_OVERHEAD, MIN_PAYLOAD, peekSeq } from "./frame.ts";
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
 * names another seq throws StoreDamageError with the segment, offset and seq.
 */
export function eventsIn(
  buf: Uint8Array,
  walk: { start: number; seq: number; stop: number; want: (seq: number) => boolean },
  at: FramesAt,
): SeqRecord[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: SeqRecord[] = [];
  let seq = walk.seq;
  let off = walk.start;
  while (off + FRAME_OVERHEAD <= buf.length && seq < walk.stop) {
    const len = dv.getUint32(off);
    const p = off + FRAME_OVERHEAD;
    if (len < MIN_PAYLOAD || p + len > buf.length) {
      throw new StoreDamageError(`impossible frame length ${len}`, {
        segment: at.segment,
        offset: at.base + off,
        seq,
      });
    }
    if (buf[p + CHAIN_SIZE] === FRAME_EVENT) {
      const s = seq++;
      if (walk.want(s)) out.push(decodeFrame(buf, dv, { off, len, seq: s }, at));
    }
    off = p + len;
  }
  return out;
}

function decodeFrame(
  buf: Uint8Array,
  dv: DataView,
  f: { off: number; len: number; seq: number },
  at: FramesAt,
): SeqRecord {
  const p = f.off + FRAME_OVERHEAD;
  const place = { segment: at.segment, offset: at.base + f.off, seq: f.seq };
  if (crc32c(buf, p, p + f.len) !== dv.getUint32(f.off + 4)) {
    throw new StoreDamageError("CRC-32C mismatch", place);
  }
  const bodyStart = p + CHAIN_SIZE + 1, bodyEnd = p + f.len;
  const claimed = peekSeq(buf, bodyStart, bodyEnd);
  if (claimed !== f.seq) {
    throw new StoreDamageError(`event body carries seq ${claimed}, expected ${f.seq}`, place);
  }
  try {
    const json = decoder.decode(buf.subarray(bodyStart, bodyEnd));
    return { seq: f.seq, event: JSON.parse(json) as AuditEvent, json };
  } catch (e) {
    throw new StoreDamageError(`undecodable event: ${(e as Error).message}`, place);
  }
}
