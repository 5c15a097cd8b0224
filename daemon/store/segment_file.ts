/**
 * Finding and reading segment files. A segment is read whole: at most a few tens of MiB, and
 * scanning a buffer in memory is what makes verification fast. A sealed segment may be stored
 * compressed (`seg-….vsegz`, `segment_compress.ts`); it reads back as exactly the bytes it was
 * sealed with, so no reader needs to know. While both forms of one segment exist (a compression
 * cut short by a crash, or one a reader sees mid-way), the uncompressed one is the one listed.
 * A reader of many segments passes a {@link SegmentBuffer} to read each into the same memory:
 * a fresh buffer a segment is garbage the collector frees late (it sees a small heap beside
 * large buffers), so memory would grow with the number of segments read.
 */

import { decodeHeader, HEADER_SIZE, parseSegmentName, type SegmentHeader } from "./frame.ts";
import { compressedPath, decompressSegment } from "./segment_compress.ts";

/** A segment file in the segments directory. */
export interface SegmentEntry {
  name: string;
  path: string;
  firstSeq: number;
  /** Stored compressed (`.vsegz`); `name` and `path` are those of that file. */
  compressed?: boolean;
}

/** Segment files of `dir` in seq order; other files are ignored. */
export async function listSegments(dir: string): Promise<SegmentEntry[]> {
  const bySeq = new Map<number, SegmentEntry>();
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile) continue;
      const compressed = e.name.endsWith(".vsegz");
      const firstSeq = parseSegmentName(compressed ? e.name.slice(0, -1) : e.name);
      if (firstSeq === null) continue;
      if (compressed && bySeq.has(firstSeq)) continue;
      const entry: SegmentEntry = { name: e.name, path: `${dir}/${e.name}`, firstSeq };
      if (compressed) entry.compressed = true;
      bySeq.set(firstSeq, entry);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return [...bySeq.values()].sort((a, b) => a.firstSeq - b.firstSeq);
}

/**
 * Memory reused from one segment read to the next, grown to the largest. Whatever was read into
 * it before is overwritten by the next read: take it only when nothing still uses the last one.
 */
export class SegmentBuffer {
  readonly shared: boolean;
  readonly #lean: (() => void) | null;
  #buf: Uint8Array<ArrayBufferLike> = new Uint8Array(0);

  /**
   * With `lean` (a collection of the heap), a buffer that must grow is let go and collected
   * before the larger one is made, and made at the size asked, without headroom: where memory
   * counts more than a reallocation (the daemon's background verification, whose last segment,
   * the active one, is read uncompressed: up to a whole segment file beside a compressed one's).
   */
  constructor(opts: { shared?: boolean; lean?: () => void } = {}) {
    this.shared = opts.shared ?? false;
    this.#lean = opts.lean ?? null;
  }

  /** `size` bytes of the buffer (their content is whatever was there). */
  take(size: number): Uint8Array<ArrayBufferLike> {
    if (this.#buf.length < size) {
      // Some headroom, so that an active segment read again as it grows is not re-allocated.
      let n = Math.max(size, Math.ceil(this.#buf.length * 1.25));
      if (this.#lean !== null) {
        this.#buf = new Uint8Array(0);
        this.#lean();
        n = size;
      }
      const mem: ArrayBufferLike = this.shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n);
      this.#buf = new Uint8Array(mem);
    }
    return this.#buf.subarray(0, size);
  }
}

/** A segment read into memory. */
export interface LoadedSegment {
  entry: SegmentEntry;
  header: SegmentHeader;
  bytes: Uint8Array;
}

/**
 * Reads a segment and decodes its header; throws SyntaxError naming the file on a bad header.
 * With `shared`, the bytes are read straight into shared memory, for Workers to read in place.
 */
export async function loadSegment(
  entry: SegmentEntry,
  opts: { shared?: boolean; buffer?: SegmentBuffer } = {},
): Promise<LoadedSegment> {
  const shared = opts.buffer?.shared ?? opts.shared ?? false;
  const alloc = opts.buffer
    ? (n: number) => opts.buffer!.take(n)
    : shared
    ? (n: number) => new Uint8Array(new SharedArrayBuffer(n))
    : undefined;
  const bytes = await readSegmentBytes(entry, alloc);
  let header: SegmentHeader;
  try {
    header = decodeHeader(bytes.subarray(0, HEADER_SIZE));
  } catch (e) {
    throw new SyntaxError(`${entry.name} offset 0: ${(e as Error).message}`);
  }
  if (header.firstSeq !== entry.firstSeq) {
    throw new SyntaxError(
      `${entry.name} offset 0: header says first seq ${header.firstSeq}, name says ${entry.firstSeq}`,
    );
  }
  return { entry, header, bytes };
}

/**
 * The bytes of a segment as sealed. An uncompressed one found gone was compressed since it was
 * listed: its twin is read instead.
 */
async function readSegmentBytes(
  entry: SegmentEntry,
  alloc: ((n: number) => Uint8Array) | undefined,
): Promise<Uint8Array> {
  let path = entry.path;
  let compressed = entry.compressed === true;
  if (!compressed) {
    try {
      return alloc ? await readWhole(path, alloc) : await Deno.readFile(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      path = compressedPath(path);
      compressed = true;
    }
  }
  try {
    return decompressSegment(await Deno.readFile(path), alloc);
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new SyntaxError(`${entry.name}: ${e.message}`);
    }
    throw e;
  }
}

/** Reads a whole file into a SharedArrayBuffer-backed array (what was there when opened). */
export function readShared(path: string): Promise<Uint8Array> {
  return readWhole(path, (n) => new Uint8Array(new SharedArrayBuffer(n)));
}

/** Reads a whole file (what was there when opened) into memory `alloc` gives. */
export async function readWhole(
  path: string,
  alloc: (size: number) => Uint8Array,
): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    const size = (await file.stat()).size;
    const out = alloc(size);
    let off = 0;
    while (off < size) {
      const n = await file.read(out.subarray(off));
      if (n === null) break;
      off += n;
    }
    return off === size ? out : out.subarray(0, off);
  } finally {
    file.close();
  }
}
