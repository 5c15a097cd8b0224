/**
 * The sparse seq-to-offset map of one segment file, for reading single events without reading
 * the segment: the file offset of every {@link STRIDE}-th event, so that any event is at most
 * STRIDE frames past a known offset. Read-only; it never changes a file.
 *
 * A map is built by walking the frames' length fields in chunks (never the whole file in
 * memory), and extended later from where it stopped, so the segment a writer is appending to is
 * scanned only once per byte. It counts exactly the events that `readLog` yields: in a segment
 * with commit frames (data format 2), events count once the commit or seal frame after them is
 * read, and whatever follows the last one is a group still being written; before the first commit
 * frame (a segment from before format 2) every whole record stands alone. Event frames are not
 * CRC-checked while mapping — each event is checked (its CRC, and that its body names the seq the
 * map expects) when it is read — but commit and seal frames are, and each commit frame's
 * `next_seq` must agree with the count, so a misread length cannot go unnoticed.
 */

import { crc32c } from "./crc32c.ts";
import { StoreDamageError } from "./errors.ts";
import { eventsIn, readAt, readAtSync, type SeqMap, type SeqRecord } from "./event_frames.ts";
import {
  CHAIN_SIZE,
  decodeHeader,
  FRAME_COMMIT,
  FRAME_EVENT,
  FRAME_LAST_TYPE,
  FRAME_OVERHEAD,
  FRAME_SEAL,
  HEADER_SIZE,
  MAX_PAYLOAD,
  MIN_PAYLOAD,
} from "./frame.ts";
import type { SegmentEntry } from "./segment_file.ts";

/** Events between two offsets the map keeps: a read walks at most this many frames. */
export const STRIDE = 64;
/** Bytes read per call while mapping a segment. */
const CHUNK = 1024 * 1024;
/** Most bytes read in one call when reading a run of neighbouring blocks. */
const MAX_RUN_BYTES = 4 * 1024 * 1024;

const decoder = new TextDecoder();

/** The sparse map of one plain segment, extended as the segment grows. */
export class SegmentMap implements SeqMap {
  readonly entry: SegmentEntry;
  /** Events the map knows of: seqs `entry.firstSeq` up to `end` (exclusive). */
  events = 0;
  /** No more events will appear: a seal frame was read, or a later segment exists. */
  complete = false;
  /** File offset after the last counted frame: where mapping resumes, and the last block ends. */
  #resumeAt = HEADER_SIZE;
  #offsets = new Uint32Array(16);
  /** Offsets of events seen after the last commit frame, not counted yet. */
  #pending: number[] = [];
  #commitMode = false;
  #headerChecked = false;
  #extending: Promise<void> | null = null;

  constructor(entry: SegmentEntry) {
    this.entry = entry;
  }

  /** The seq after the last one mapped. */
  get end(): number {
    return this.entry.firstSeq + this.events;
  }

  /** Memory held, roughly, for the reader's cache budget. */
  get bytes(): number {
    return this.#offsets.byteLength + 256;
  }

  /** Offset of the first frame of block `b` (events `b * STRIDE` on). */
  blockStart(b: number): number {
    return this.#offsets[b]!;
  }

  /** Offset where block `b` ends: the next block's first frame, or the end of what was mapped. */
  blockEnd(b: number): number {
    return (b + 1) * STRIDE < this.events ? this.#offsets[b + 1]! : this.#resumeAt;
  }

  /**
   * Maps what the file holds beyond the last call. `last` says the segment is the log's newest,
   * whose end may be a write in flight: a cut-off or malformed frame there ends the map for now,
   * while anywhere else it is damage and throws StoreDamageError with the place.
   */
  extend(last: boolean): Promise<void> {
    // Callers share one walk: two at once would count the same frames twice.
    this.#extending ??= this.#extend(last).finally(() => this.#extending = null);
    return this.#extending;
  }

  async #extend(last: boolean): Promise<void> {
    if (this.complete) return;
    using file = await Deno.open(this.entry.path, { read: true });
    if (!this.#headerChecked) {
      const head = await readAt(file, 0, HEADER_SIZE);
      let firstSeq: number;
      try {
        firstSeq = decodeHeader(head).firstSeq;
      } catch (e) {
        if (last && head.length < HEADER_SIZE) return; // a segment being created
        throw new StoreDamageError((e as Error).message, { segment: this.entry.name, offset: 0 });
      }
      if (firstSeq !== this.entry.firstSeq) {
        throw new StoreDamageError(`header says first seq ${firstSeq}, name says otherwise`, {
          segment: this.entry.name,
          offset: 0,
        });
      }
      this.#headerChecked = true;
    }
    const size = (await file.stat()).size;
    // Pending events are walked again from the last counted frame: their group may be whole now.
    this.#pending = [];
    let at = this.#resumeAt;
    let buf: Uint8Array<ArrayBuffer> = new Uint8Array(0);
    let base = at;
    while (at < size) {
      if (at + FRAME_OVERHEAD > base + buf.length) {
        buf = await readAt(file, at, Math.max(CHUNK, FRAME_OVERHEAD));
        base = at;
        if (buf.length < FRAME_OVERHEAD) break; // cut off: a write in flight, or a torn end
      }
      const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      const len = dv.getUint32(at - base);
      const frameEnd = at + FRAME_OVERHEAD + len;
      if (len < MIN_PAYLOAD || len > MAX_PAYLOAD) {
        if (last) break;
        throw this.#damage(`impossible frame length ${len}`, at);
      }
      if (frameEnd > size) break; // cut off by the end of the file
      if (frameEnd > base + buf.length) {
        buf = await readAt(file, at, Math.max(CHUNK, FRAME_OVERHEAD + len));
        base = at;
        if (buf.length < FRAME_OVERHEAD + len) break; // the file shrank: a torn tail was cut
        continue;
      }
      const p = at - base + FRAME_OVERHEAD;
      const type = buf[p + CHAIN_SIZE]!;
      if (type > FRAME_LAST_TYPE) {
        if (last) break;
        throw this.#damage(`unknown frame type ${type}`, at);
      }
      if (type === FRAME_EVENT) {
        if (this.#commitMode) this.#pending.push(at);
        else {
          // Before any commit frame every record stands alone, so it must be whole to count.
          if (crc32c(buf, p, p + len) !== dv.getUint32(at - base + 4)) {
            if (last) break;
            throw this.#damage("CRC-32C mismatch", at);
          }
          this.#count(at);
          this.#resumeAt = frameEnd;
        }
      } else if (type === FRAME_COMMIT || type === FRAME_SEAL) {
        if (crc32c(buf, p, p + len) !== dv.getUint32(at - base + 4)) {
          if (last) break;
          throw this.#damage("CRC-32C mismatch", at);
        }
        for (const o of this.#pending) this.#count(o);
        this.#pending = [];
        if (type === FRAME_COMMIT) {
          this.#commitMode = true;
          const claimed = nextSeqOf(buf.subarray(p + CHAIN_SIZE + 1, p + len));
          if (claimed !== this.end) {
            throw this.#damage(
              `commit record says the next seq is ${claimed}, the records before it end at ${this.end}`,
              at,
            );
          }
        }
        this.#resumeAt = frameEnd;
        if (type === FRAME_SEAL) {
          this.complete = true;
          return;
        }
      } else if (!this.#commitMode) {
        this.#resumeAt = frameEnd;
      }
      at = frameEnd;
    }
    // Only the newest segment grows; any other ends where its file ends.
    if (!last) this.complete = true;
  }

  #count(offset: number): void {
    if (this.events % STRIDE === 0) {
      const b = this.events / STRIDE;
      if (b >= this.#offsets.length) {
        const grown = new Uint32Array(this.#offsets.length * 2);
        grown.set(this.#offsets);
        this.#offsets = grown;
      }
      this.#offsets[b] = offset;
    }
    this.events++;
  }

  #damage(reason: string, offset: number): StoreDamageError {
    return new StoreDamageError(reason, { segment: this.entry.name, offset });
  }

  /**
   * The events of `seqs` (ascending, all below `end`), reading runs of neighbouring blocks in
   * one call each. Throws StoreDamageError for an event that is not what the map expects.
   */
  read(seqs: readonly number[]): Promise<SeqRecord[]> {
    try {
      return Promise.resolve(this.#read(seqs));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #read(seqs: readonly number[]): SeqRecord[] {
    const blocks: number[] = [];
    for (const s of seqs) {
      const b = Math.floor((s - this.entry.firstSeq) / STRIDE);
      if (blocks[blocks.length - 1] !== b) blocks.push(b);
    }
    const wanted = new Set(seqs);
    const want = (s: number): boolean => wanted.has(s);
    const out: SeqRecord[] = [];
    using file = Deno.openSync(this.entry.path, { read: true });
    for (let i = 0; i < blocks.length;) {
      let j = i;
      const from = this.blockStart(blocks[i]!);
      while (
        j + 1 < blocks.length && blocks[j + 1] === blocks[j]! + 1 &&
        this.blockEnd(blocks[j + 1]!) - from <= MAX_RUN_BYTES
      ) j++;
      const to = this.blockEnd(blocks[j]!);
      const stop = Math.min(this.end, this.entry.firstSeq + (blocks[j]! + 1) * STRIDE);
      const buf = readAtSync(file, from, to - from);
      if (buf.length < to - from) {
        throw this.#damage(`file ends at ${from + buf.length}, before mapped offset ${to}`, from);
      }
      const seq = this.entry.firstSeq + blocks[i]! * STRIDE;
      for (
        const r of eventsIn(buf, { start: 0, seq, stop, want }, {
          segment: this.entry.name,
          base: from,
        })
      ) out.push(r);
      i = j + 1;
    }
    return out;
  }
}

/** The `next_seq` of a commit frame's body, or NaN when it is not one. */
function nextSeqOf(body: Uint8Array): number {
  try {
    const v = JSON.parse(decoder.decode(body));
    return typeof v?.next_seq === "number" ? v.next_seq : NaN;
  } catch {
    return NaN;
  }
}
