/**
 * The log as an export reads it: runs of whole event frames, a few MiB at a time, as the bytes
 * and the offsets of the frames of the seqs asked for, with nothing decoded. An export needs each
 * event's canonical bytes (they are the Merkle leaf data and what its Parquet row rebuilds), its
 * source and time (its partition) and its chain hash — all in the frame — so it never builds the
 * event objects that `readLog` makes of a whole segment at once.
 *
 * Memory stays at one run (`RUN_BYTES`, more only for a single larger record) and one compressed
 * file, in buffers reused from segment to segment, however long the range: a compressed segment
 * is decompressed a few blocks at a time, and blocks wholly before the first seq asked for are
 * not decompressed at all (the block table says which seq each starts at); a plain segment is
 * read in chunks. Reading each segment whole into a fresh buffer held 64 MiB and more (the
 * allocator keeps what it got from the system: ~100 MiB more resident after a scan of 1M events).
 * Read-only and safe while a writer appends.
 *
 * Only seqs under a signed checkpoint are asked for, and a writer signs only committed groups,
 * so every frame walked here is committed: commit and position frames are stepped over, and the
 * walk stops at the last seq asked for, before any group still being written.
 */

import { StoreDamageError } from "../store/errors.ts";
import { checkDataFormat } from "../store/format.ts";
import {
  CHAIN_SIZE,
  decodeHeader,
  FRAME_EVENT,
  FRAME_OVERHEAD,
  HEADER_SIZE,
  MAX_PAYLOAD,
  MIN_PAYLOAD,
} from "../store/frame.ts";
import { decodeBlockTable, decompressBlockInto } from "../store/segment_compress.ts";
import {
  listSegments,
  readWhole,
  SegmentBuffer,
  type SegmentEntry,
} from "../store/segment_file.ts";
import { storePaths } from "../store/store_open.ts";

/** The frames of seqs [firstSeq, firstSeq + count), in one run of one segment's bytes. */
export interface SegmentSlice {
  /** The segment's name, for errors. */
  segment: string;
  /** The run's bytes; offsets below are into it. */
  buf: Uint8Array;
  /** Offset in the segment's raw bytes of `buf[0]`, for errors. */
  base: number;
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
/** Raw bytes in memory at a time: a few compressed blocks, or a chunk of a plain segment. */
const RUN_BYTES = 4 * 1024 * 1024;

/**
 * From a frame's offset: its chain hash (the head after it). Its event's canonical JSON is at
 * `BODY_AT` (`frame.ts`).
 */
export const CHAIN_AT = FRAME_OVERHEAD;

/** Where a walk of one segment stands: the next seq, and the chain head before it. */
interface Cursor {
  seq: number;
  chain: Uint8Array;
}

/**
 * Yields the events with seqs in [fromSeq, toSeq), a run at a time, in seq order. The frames
 * are walked by their lengths only; CRCs, seqs and chain links are for the caller to check
 * (`checkChunk`). Throws StoreDamageError when the log does not hold every seq asked for.
 * The yielded slice is one object, reused, over one buffer, reused: valid until the next one is
 * asked for.
 */
export async function* scanLog(
  dataDir: string,
  opts: {
    fromSeq: number;
    toSeq: number;
    /** Raw bytes a run holds at most, but for a larger record (default `RUN_BYTES`). */
    runBytes?: number;
  },
): AsyncGenerator<SegmentSlice> {
  const { fromSeq, toSeq } = opts;
  await checkDataFormat(dataDir);
  const segments = await listSegments(storePaths(dataDir).segments);
  const scan = new Scan(fromSeq, toSeq, opts.runBytes ?? RUN_BYTES);
  try {
    yield* scanSegments(scan, segments);
  } finally {
    scan.release();
  }
  if (scan.next < toSeq) {
    throw new StoreDamageError(
      `Cannot export: the log ends at seq ${scan.next}, before seq ${toSeq}`,
    );
  }
}

/** The runs of `segments` that `scan` wants, in seq order. */
async function* scanSegments(
  scan: Scan,
  segments: readonly SegmentEntry[],
): AsyncGenerator<SegmentSlice> {
  const toSeq = scan.toSeq;
  for (let i = 0; i < segments.length && scan.next < toSeq; i++) {
    const following = segments[i + 1];
    if (following && following.firstSeq <= scan.next) continue;
    if (segments[i]!.firstSeq > scan.next) break; // a hole: reported below
    const entry = segments[i]!;
    let walked: number;
    if (entry.compressed) walked = yield* scan.packed(entry);
    else {
      try {
        walked = yield* scan.plain(entry);
      } catch (e) {
        // Compressed since it was listed (before a byte of it was read): its twin is read.
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        walked = yield* scan.packed({ ...entry, name: `${entry.name}z`, path: `${entry.path}z` });
      }
    }
    // A segment that ends before the next one begins has lost events: reported below.
    if (walked < toSeq && following && following.firstSeq !== walked) break;
  }
}

/** One scan's buffers and position. */
class Scan {
  /** The next seq to yield. */
  next: number;
  readonly toSeq: number;
  readonly #run = new SegmentBuffer();
  readonly #packed = new SegmentBuffer();
  /** The buffers last taken from `#packed` and `#run`, freed by `release()`. */
  #held: (Uint8Array | undefined)[] = [];
  readonly slice: SegmentSlice = {
    segment: "",
    buf: EMPTY,
    base: 0,
    firstSeq: 0,
    count: 0,
    frames: new Int32Array(16 * 1024),
    start: 0,
    end: 0,
    prevChain: EMPTY,
  };

  readonly #runBytes: number;

  constructor(fromSeq: number, toSeq: number, runBytes: number) {
    this.next = fromSeq;
    this.toSeq = toSeq;
    this.#runBytes = Math.max(HEADER_SIZE, runBytes);
  }

  /**
   * Frees the buffers at once (the scan is over): left to the collector, a compressed file and a
   * run (~20 MiB at the scale bench's segments) stayed resident while the bundle's files were
   * written after the scan, which is when an export peaks.
   */
  release(): void {
    for (const view of this.#held) {
      const whole = view?.buffer;
      if (whole instanceof ArrayBuffer && !whole.detached) whole.transfer(0);
    }
    this.#held = [];
  }

  /** The runs of a compressed segment; returns the seq after its last event walked. */
  async *packed(entry: SegmentEntry): AsyncGenerator<SegmentSlice, number> {
    const file = await readWhole(entry.path, (n) => (this.#held[0] = this.#packed.take(n)));
    const { blocks } = named(entry, () => decodeBlockTable(file));
    let i = 0;
    // Blocks that end before the first seq wanted are never decompressed.
    while (i + 1 < blocks.length && blocks[i + 1]!.firstSeq <= this.next) i++;
    const at: Cursor = { seq: blocks[i]!.firstSeq, chain: blocks[i]!.prevChain };
    while (i < blocks.length && at.seq < this.toSeq) {
      let j = i, size = 0;
      do size += blocks[j++]!.rawLength; while (j < blocks.length && size < this.#runBytes);
      const base = blocks[i]!.rawOffset;
      const buf = this.#held[1] = this.#run.take(size);
      for (let k = i; k < j; k++) {
        const b = blocks[k]!;
        named(entry, () => decompressBlockInto(file, b, k, buf, b.rawOffset - base));
      }
      let from = 0;
      if (i === 0) {
        const header = named(entry, () => decodeHeader(buf.subarray(0, HEADER_SIZE)));
        if (header.firstSeq !== entry.firstSeq) {
          throw damage(entry, 0, `the header says first seq ${header.firstSeq}`);
        }
        at.chain = header.prevChain;
        from = HEADER_SIZE;
      }
      const stop = this.#walk(entry, { buf, base, from, limit: size }, at);
      if (this.slice.count > 0) yield this.slice;
      if (stop < size && at.seq < this.toSeq) break; // damage: the caller's count tells
      at.chain = at.chain.slice(); // it points into the bytes the next run overwrites
      i = j;
    }
    return at.seq;
  }

  /** The runs of a plain segment, read a chunk at a time; returns the seq after its last event. */
  async *plain(entry: SegmentEntry): AsyncGenerator<SegmentSlice, number> {
    using file = await Deno.open(entry.path, { read: true });
    let buf = this.#held[1] = this.#run.take(this.#runBytes);
    let have = await fill(file, buf, 0);
    if (have < HEADER_SIZE) throw damage(entry, 0, "the segment is cut short in its header");
    const header = named(entry, () => decodeHeader(buf.subarray(0, HEADER_SIZE)));
    if (header.firstSeq !== entry.firstSeq) {
      throw damage(entry, 0, `the header says first seq ${header.firstSeq}`);
    }
    const at: Cursor = { seq: header.firstSeq, chain: header.prevChain };
    let base = 0, from = HEADER_SIZE;
    while (at.seq < this.toSeq) {
      const atEnd = have < buf.length;
      const stop = this.#walk(entry, { buf, base, from, limit: have }, at);
      if (this.slice.count > 0) yield this.slice;
      if (atEnd || at.seq >= this.toSeq) break;
      at.chain = at.chain.slice(); // it points into the bytes about to move
      // The frame cut by the chunk's end moves to the front, with room to read it whole.
      const need = frameNeeds(buf, stop, have);
      if (need < 0) break; // a wild length: the end of what was written, or damage
      const keep = have - stop;
      if (need > buf.length) {
        const grown = new Uint8Array(need + this.#runBytes);
        grown.set(buf.subarray(stop, have));
        buf = grown;
      } else buf.copyWithin(0, stop, have);
      base += stop;
      from = 0;
      have = keep + await fill(file, buf, keep);
      if (have === keep) break;
    }
    return at.seq;
  }

  /**
   * Walks the whole frames of `r.buf[r.from..r.limit)`, recording in the slice the event frames
   * of the seqs wanted; advances `at`. Returns the offset where it stopped: `limit`, or the
   * start of a frame that is not whole there (or has a wild length).
   */
  #walk(
    entry: SegmentEntry,
    r: { buf: Uint8Array; base: number; from: number; limit: number },
    at: Cursor,
  ): number {
    const { buf, limit } = r;
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const slice = this.slice;
    let frames = slice.frames;
    let off = r.from, count = 0, start = -1, end = -1;
    // Offsets of the frame before the first wanted, and of the last frame walked: their chain
    // fields are the heads wanted, taken once at the end (a view a frame cost ~1 µs a frame).
    let before = -1, last = -1;
    let seq = at.seq;
    while (seq < this.toSeq && off + FRAME_OVERHEAD <= limit) {
      const len = dv.getUint32(off);
      if (len < MIN_PAYLOAD || len > MAX_PAYLOAD || off + FRAME_OVERHEAD + len > limit) break;
      const isEvent = buf[off + FRAME_OVERHEAD + CHAIN_SIZE] === FRAME_EVENT;
      if (isEvent && seq >= this.next) {
        if (count === 0) start = off;
        if (count === frames.length) {
          const grown = new Int32Array(frames.length * 2);
          grown.set(frames);
          frames = grown;
        }
        frames[count++] = off;
        end = off + FRAME_OVERHEAD + len;
      } else if (count === 0) before = off;
      last = off;
      if (isEvent) seq++;
      off += FRAME_OVERHEAD + len;
    }
    Object.assign(slice, {
      segment: entry.name,
      buf,
      base: r.base,
      firstSeq: this.next,
      count,
      frames,
      start,
      end,
    });
    // The chain field of every frame is the chain head after it.
    const chainOf = (frame: number) =>
      buf.subarray(frame + FRAME_OVERHEAD, frame + FRAME_OVERHEAD + CHAIN_SIZE);
    if (count > 0) slice.prevChain = (before >= 0 ? chainOf(before) : at.chain).slice();
    if (last >= 0) at.chain = chainOf(last);
    this.next += count;
    at.seq = seq;
    return off;
  }
}

/** Bytes a frame at `off` needs in all, or -1 for a wild length; `have` bytes are there. */
function frameNeeds(buf: Uint8Array, off: number, have: number): number {
  if (off + FRAME_OVERHEAD > have) return FRAME_OVERHEAD;
  const len = new DataView(buf.buffer, buf.byteOffset + off, 4).getUint32(0);
  return len < MIN_PAYLOAD || len > MAX_PAYLOAD ? -1 : FRAME_OVERHEAD + len;
}

/** Reads into `buf` from `at` until it is full or the file ends; returns the bytes read. */
async function fill(file: Deno.FsFile, buf: Uint8Array, at: number): Promise<number> {
  let got = 0;
  while (at + got < buf.length) {
    const n = await file.read(buf.subarray(at + got));
    if (n === null) break;
    got += n;
  }
  return got;
}

/** Runs `fn`, naming the segment in a SyntaxError it throws. */
function named<T>(entry: SegmentEntry, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SyntaxError) throw new SyntaxError(`${entry.name}: ${e.message}`);
    throw e;
  }
}

function damage(entry: SegmentEntry, offset: number, why: string): StoreDamageError {
  return new StoreDamageError(`Cannot export: ${entry.name} offset ${offset}: ${why}`, {});
}

/**
 * Frees a large buffer's memory now rather than at the next full garbage collection, which V8
 * runs late for memory outside its heap. Only for a buffer nothing else uses. A view of part of
 * a buffer is left to the collector.
 */
export function releaseBuffer(buf: Uint8Array): void {
  const whole = buf.buffer;
  if (!(whole instanceof ArrayBuffer) || buf.byteOffset !== 0) return;
  if (buf.byteLength !== whole.byteLength || whole.byteLength === 0) return;
  whole.transfer(0);
}
