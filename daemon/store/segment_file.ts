/**
 * Finding and reading segment files. A segment is read whole: at most a few tens of MiB, and
 * scanning a buffer in memory is what makes verification fast.
 */

import { decodeHeader, HEADER_SIZE, parseSegmentName, type SegmentHeader } from "./frame.ts";

/** A segment file in the segments directory. */
export interface SegmentEntry {
  name: string;
  path: string;
  firstSeq: number;
}

/** Segment files of `dir` in seq order; other files are ignored. */
export async function listSegments(dir: string): Promise<SegmentEntry[]> {
  const out: SegmentEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile) continue;
      const firstSeq = parseSegmentName(e.name);
      if (firstSeq !== null) out.push({ name: e.name, path: `${dir}/${e.name}`, firstSeq });
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return out.sort((a, b) => a.firstSeq - b.firstSeq);
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
  opts: { shared?: boolean } = {},
): Promise<LoadedSegment> {
  const bytes = opts.shared ? await readShared(entry.path) : await Deno.readFile(entry.path);
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

/** Reads a whole file into a SharedArrayBuffer-backed array (what was there when opened). */
async function readShared(path: string): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    const size = (await file.stat()).size;
    const out = new Uint8Array(new SharedArrayBuffer(size));
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
