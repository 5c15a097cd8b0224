/**
 * The two ends of a segment file, read without the records between them: where it starts (the
 * header, or a compressed segment's block table, which carries the header's seq and chain head)
 * and, for a sealed one, where its seal record says it ends — found in an uncompressed file's
 * last bytes, or in a compressed file's last block. Read-only; for the start checks
 * (`verify_seals.ts`). Damage is thrown as StoreDamageError with the segment and offset.
 */

import { crc32c } from "./crc32c.ts";
import { StoreDamageError } from "./errors.ts";
import {
  CHAIN_SIZE,
  commitSigned,
  decodeHeader,
  FRAME_COMMIT,
  FRAME_OVERHEAD,
  FRAME_SEAL,
  HEADER_SIZE,
  MIN_PAYLOAD,
} from "./frame.ts";
import {
  type Block,
  compressedPath,
  decompressBlock,
  readBlockBytes,
  readBlockTable,
} from "./segment_compress.ts";
import type { SegmentEntry } from "./segment_file.ts";

/** Bytes of an uncompressed segment's end read first when looking for its seal record. */
const TAIL_BYTES = 16 * 1024;
/** A seal record names every source's position; past this it is not looked for further. */
const MAX_TAIL_BYTES = 4 * 1024 * 1024;

/** The two ends of one segment: where it starts and, when sealed, where its seal says it ends. */
export interface Ends {
  firstSeq: number;
  prevChain: Uint8Array;
  /** From the seal record: the seq after the segment's last event, and the chain head there. */
  nextSeq: number;
  chain: Uint8Array;
  /** The largest `signed` size a commit frame read here states (0 if none). */
  claim: number;
}

/**
 * Opens a segment file. One listed uncompressed may have been compressed since (the writer
 * compresses the one it sealed last in the background): its twin is opened then.
 */
async function openSegment(
  entry: SegmentEntry,
): Promise<{ file: Deno.FsFile; entry: SegmentEntry }> {
  try {
    return { file: await Deno.open(entry.path, { read: true }), entry };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (!entry.compressed) {
    const twin = {
      ...entry,
      name: `${entry.name}z`,
      path: compressedPath(entry.path),
      compressed: true,
    };
    try {
      return { file: await Deno.open(twin.path, { read: true }), entry: twin };
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  throw new StoreDamageError("segment file is gone", { segment: entry.name });
}

/** Reads `length` bytes at `offset` into `out` (at the same offset when `out` spans the file). */
async function readAt(file: Deno.FsFile, offset: number, out: Uint8Array): Promise<number> {
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < out.length) {
    const n = await file.read(out.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got;
}

/** The header and seal record of a sealed segment, read without its records. */
export async function sealedEnds(listed: SegmentEntry): Promise<Ends> {
  const { file, entry } = await openSegment(listed);
  try {
    return entry.compressed ? await packedEnds(file, entry) : await plainEnds(file, entry);
  } finally {
    file.close();
  }
}

/** An uncompressed sealed segment: its header, and the seal record that must end it. */
async function plainEnds(file: Deno.FsFile, entry: SegmentEntry): Promise<Ends> {
  const size = (await file.stat()).size;
  const header = await readHeader(file, entry, size);
  let window = TAIL_BYTES;
  for (;;) {
    const from = Math.max(HEADER_SIZE, size - window);
    const tail = new Uint8Array(size - from);
    await readAt(file, from, tail);
    const seal = frameEndingAt(tail, tail.length);
    if (seal !== null && seal.type === FRAME_SEAL) {
      const commit = frameEndingAt(tail, seal.offset);
      const claim = commit?.type === FRAME_COMMIT ? commitSigned(tail, commit.body, commit.end) : 0;
      return { ...header, ...sealOf(tail, seal, entry), claim };
    }
    if (from === HEADER_SIZE || window >= MAX_TAIL_BYTES) {
      throw new StoreDamageError(
        "sealed segment does not end with its seal record (cut short, or bytes added)",
        { segment: entry.name, offset: size },
      );
    }
    window *= 4;
  }
}

/**
 * A compressed sealed segment: its block table (which must account for the file's size
 * exactly) and its last block, which holds the seal record, each read alone (a buffer of the
 * file's size, zero pages never written, cost a 12 MB allocation a segment: most of a start
 * check's time at 100M events when no seal cache held the ends).
 */
async function packedEnds(file: Deno.FsFile, entry: SegmentEntry): Promise<Ends> {
  const size = (await file.stat()).size;
  let blocks: Block[];
  try {
    blocks = (await readBlockTable(file)).blocks;
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    throw new StoreDamageError(`${e.message} (a file of ${size} bytes)`, {
      segment: entry.name,
    });
  }
  const last = blocks[blocks.length - 1]!;
  const end = last.compOffset + last.compLength;
  if (end !== size) {
    throw new StoreDamageError(
      `compressed segment is ${size} bytes, its block table accounts for ${end}`,
      { segment: entry.name, offset: end },
    );
  }
  const first = blocks[0]!;
  if (first.firstSeq !== entry.firstSeq) {
    throw new StoreDamageError(
      `block table starts at seq ${first.firstSeq}, the name says ${entry.firstSeq}`,
      { segment: entry.name, offset: 0 },
    );
  }
  const packed = await readBlockBytes(file, last);
  let raw: Uint8Array;
  try {
    raw = decompressBlock(packed, { ...last, compOffset: 0 }, blocks.length - 1);
  } catch (e) {
    throw new StoreDamageError((e as Error).message, {
      segment: entry.name,
      offset: last.rawOffset,
    });
  }
  // The block's zstd checksum vouches for its bytes; the seal is found from the back.
  const seal = frameEndingAt(raw, raw.length);
  if (seal === null || seal.type !== FRAME_SEAL) {
    throw new StoreDamageError("sealed segment does not end with its seal record", {
      segment: entry.name,
      offset: last.rawOffset + raw.length,
    });
  }
  const commit = frameEndingAt(raw, seal.offset);
  const claim = commit?.type === FRAME_COMMIT ? commitSigned(raw, commit.body, commit.end) : 0;
  return {
    firstSeq: first.firstSeq,
    prevChain: first.prevChain,
    ...sealOf(raw, seal, entry),
    claim,
  };
}

/** The active segment: its header. */
export async function activeEnds(entry: SegmentEntry): Promise<Ends> {
  const { file } = await openSegment(entry);
  try {
    const header = await readHeader(file, entry, (await file.stat()).size);
    return { ...header, nextSeq: header.firstSeq, chain: header.prevChain, claim: 0 };
  } finally {
    file.close();
  }
}

/**
 * The `signed` size stated by the commit frame that ends the active segment, 0 when it does not
 * end with one (a segment from before commit frames, or a write in flight: not damage here,
 * recovery checked the segment when the writer opened it).
 */
export async function activeClaim(entry: SegmentEntry): Promise<number> {
  const { file } = await openSegment(entry);
  try {
    const size = (await file.stat()).size;
    const from = Math.max(HEADER_SIZE, size - TAIL_BYTES);
    const tail = new Uint8Array(Math.max(0, size - from));
    await readAt(file, from, tail);
    const f = frameEndingAt(tail, tail.length);
    return f?.type === FRAME_COMMIT ? commitSigned(tail, f.body, f.end) : 0;
  } finally {
    file.close();
  }
}

async function readHeader(
  file: Deno.FsFile,
  entry: SegmentEntry,
  size: number,
): Promise<{ firstSeq: number; prevChain: Uint8Array }> {
  const buf = new Uint8Array(HEADER_SIZE);
  const got = await readAt(file, 0, buf);
  let h;
  try {
    h = decodeHeader(buf.subarray(0, got));
  } catch (e) {
    throw new StoreDamageError(`${(e as Error).message} (a file of ${size} bytes)`, {
      segment: entry.name,
      offset: 0,
    });
  }
  if (h.firstSeq !== entry.firstSeq) {
    throw new StoreDamageError(
      `header says first seq ${h.firstSeq}, the name says ${entry.firstSeq}`,
      {
        segment: entry.name,
        offset: 0,
      },
    );
  }
  return { firstSeq: h.firstSeq, prevChain: h.prevChain };
}

/** A whole frame found in a buffer: its start, its body and end, its type. */
interface FrameAt {
  offset: number;
  body: number;
  end: number;
  type: number;
}

/**
 * The frame of `buf` that ends exactly at `end`, found from the back: the offset whose length
 * field reaches `end` and whose CRC-32C holds. A chance match of both is about one in 2^64.
 */
function frameEndingAt(buf: Uint8Array, end: number): FrameAt | null {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let o = end - FRAME_OVERHEAD - MIN_PAYLOAD; o >= 0; o--) {
    const len = end - o - FRAME_OVERHEAD;
    if (dv.getUint32(o) !== len) continue;
    const p = o + FRAME_OVERHEAD;
    if (crc32c(buf, p, end) !== dv.getUint32(o + 4)) continue;
    return { offset: o, body: p + CHAIN_SIZE + 1, end, type: buf[p + CHAIN_SIZE]! };
  }
  return null;
}

/** The seq after the segment and the chain head there, from its seal record. */
function sealOf(
  buf: Uint8Array,
  seal: FrameAt,
  entry: SegmentEntry,
): { nextSeq: number; chain: Uint8Array } {
  let next: unknown;
  try {
    next = JSON.parse(new TextDecoder().decode(buf.subarray(seal.body, seal.end))).next_seq;
  } catch {
    next = undefined;
  }
  if (typeof next !== "number" || !Number.isSafeInteger(next)) {
    throw new StoreDamageError("seal record does not say where the segment ends", {
      segment: entry.name,
    });
  }
  const chainAt = seal.body - CHAIN_SIZE - 1;
  return { nextSeq: next, chain: buf.slice(chainAt, chainAt + CHAIN_SIZE) };
}
