/**
 * Sealed segments stored compressed: `seg-<first seq>.vsegz` holds exactly the bytes of the
 * sealed `seg-<first seq>.vseg` — header, framed records, chain hashes, CRCs, seal record — in
 * zstd blocks of about {@link BLOCK_BYTES} that each start at a record boundary, behind a table of
 * where each block's raw bytes start and which seq they start at. So every reader sees the same
 * bytes whether a segment is compressed or not (`segment_file.ts` decompresses), the hash chain,
 * Merkle leaves and signatures stay over the canonical event bytes unchanged, and one record is
 * reached by decompressing one block.
 *
 * Layout (big-endian): magic `VIGILSZ2` | raw size u64 | block count u32 | per block: raw offset
 * u64, compressed offset u64, raw length u32, compressed length u32, first seq u64, the chain
 * head before the block (32 bytes), the least and greatest event time in it (f64 µs each,
 * `block_times.ts`) | CRC-32C of everything before it u32 | the blocks, each one zstd frame with
 * its content checksum. With each block's first seq and chain head, `verify` checks blocks on
 * both cores at once, each decompressed where it is checked; the chain heads in the table are not
 * trusted: each must equal the chain the records before it end with, and each block's time span
 * must be the one its events have (`verify_packed.ts`). The time spans let an export of a time
 * range skip every block that cannot hold an event of it (`export/plan.ts`). Files of the first
 * version (`VIGILSZ1`, entries without the time span) are read as they are: their blocks have no
 * span, and are looked into.
 *
 * A file is written next to the sealed segment (tmp, fsync, rename, directory fsync), read back
 * and compared byte for byte with the original, and only then is the original removed. A crash
 * at any point leaves the original, a complete twin, or both; readers take the original while it
 * is there.
 */

import zlib from "node:zlib";
import { eventTimeSpan, type TimeSpan } from "./block_times.ts";
import { crc32c } from "./crc32c.ts";
import { log } from "../log.ts";
import { readAt } from "./file_read.ts";
import { CHAIN_SIZE, FRAME_EVENT, HEADER_SIZE, scanFrames } from "./frame.ts";
import { syncDir } from "./segment_writer.ts";
import { zstdDecompressInto } from "./zstd_into.ts";

export const COMPRESSED_MAGIC = "VIGILSZ2";
/** The first version's magic: block entries without their time span. */
export const COMPRESSED_MAGIC_V1 = "VIGILSZ1";
/** Raw bytes per block: one record read costs one block's decompression (~1 ms). */
export const BLOCK_BYTES = 1024 * 1024;
const ENTRY_BYTES = 80;
const ENTRY_BYTES_V1 = 64;
const FIXED_BYTES = 8 + 8 + 4;
/** zstd level 3: about 5.5x on audit events at over 1 GB/s to decompress (measured). */
const LEVEL = 3;

/** One block of a compressed segment. */
export interface Block {
  rawOffset: number;
  rawLength: number;
  compOffset: number;
  compLength: number;
  /** Seq of the first event record at or after `rawOffset` (the next segment's first if none). */
  firstSeq: number;
  /** The chain head before the block's first record (the header's for block 0). */
  prevChain: Uint8Array;
  /** The least and greatest event time in the block; absent in a file of the first version. */
  times?: TimeSpan;
}

/** The table of a compressed segment. */
export interface BlockTable {
  rawSize: number;
  blocks: Block[];
}

/** Splits `raw` at record boundaries into blocks of about BLOCK_BYTES, with their first seqs. */
function planBlocks(
  raw: Uint8Array,
  firstSeq: number,
): { start: number; end: number; seq: number; chain: Uint8Array; times?: TimeSpan }[] {
  const plan: { start: number; end: number; seq: number; chain: Uint8Array; times?: TimeSpan }[] =
    [];
  let start = 0;
  let seq = firstSeq;
  let startSeq = firstSeq;
  // The header's chain head before the first record; then each frame's chain field.
  let chain = raw.subarray(16, 16 + CHAIN_SIZE);
  let startChain = chain;
  scanFrames(raw, HEADER_SIZE, raw.length, (f) => {
    const end = f.payload + f.length;
    if (f.type === FRAME_EVENT) seq++;
    chain = raw.subarray(f.payload, f.payload + CHAIN_SIZE);
    if (end - start >= BLOCK_BYTES) {
      plan.push({ start, end, seq: startSeq, chain: startChain });
      start = end;
      startSeq = seq;
      startChain = chain;
    }
  });
  if (start < raw.length || plan.length === 0) {
    plan.push({ start, end: raw.length, seq: startSeq, chain: startChain });
  }
  for (const b of plan) b.times = eventTimeSpan(raw, Math.max(b.start, HEADER_SIZE), b.end);
  return plan;
}

/**
 * The compressed form of the sealed segment bytes `raw`, whose first record has `firstSeq`.
 * Yields to the event loop between blocks, so that appends are not held up.
 */
export async function compressSegmentBytes(raw: Uint8Array, firstSeq: number): Promise<Uint8Array> {
  const plan = planBlocks(raw, firstSeq);
  const parts: Uint8Array[] = [];
  for (const b of plan) {
    parts.push(
      zlib.zstdCompressSync(raw.subarray(b.start, b.end), {
        params: {
          [zlib.constants.ZSTD_c_compressionLevel]: LEVEL,
          [zlib.constants.ZSTD_c_checksumFlag]: 1,
        },
      }),
    );
    await new Promise((r) => setTimeout(r, 0));
  }
  const headLen = FIXED_BYTES + plan.length * ENTRY_BYTES + 4;
  const total = headLen + parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode(COMPRESSED_MAGIC), 0);
  dv.setBigUint64(8, BigInt(raw.length));
  dv.setUint32(16, plan.length);
  let comp = headLen;
  plan.forEach((b, i) => {
    const at = FIXED_BYTES + i * ENTRY_BYTES;
    dv.setBigUint64(at, BigInt(b.start));
    dv.setBigUint64(at + 8, BigInt(comp));
    dv.setUint32(at + 16, b.end - b.start);
    dv.setUint32(at + 20, parts[i]!.length);
    dv.setBigUint64(at + 24, BigInt(b.seq));
    out.set(b.chain, at + 32);
    dv.setFloat64(at + 64, b.times!.min);
    dv.setFloat64(at + 72, b.times!.max);
    out.set(parts[i]!, comp);
    comp += parts[i]!.length;
  });
  dv.setUint32(headLen - 4, crc32c(out, 0, headLen - 4));
  return out;
}

/**
 * Reads the block table from the front of a compressed file (`file` may hold only its front;
 * `fileSize` is the whole file's length); throws SyntaxError naming what is wrong.
 */
export function decodeBlockTable(file: Uint8Array, fileSize: number = file.length): BlockTable {
  if (file.length < FIXED_BYTES + 4) throw new SyntaxError("compressed segment is cut short");
  const entryBytes = entrySize(file);
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const rawSize = Number(dv.getBigUint64(8));
  const count = dv.getUint32(16);
  const headLen = FIXED_BYTES + count * entryBytes + 4;
  if (count === 0 || headLen > file.length || headLen > fileSize) {
    throw new SyntaxError(`compressed segment block table of ${count} blocks does not fit`);
  }
  if (dv.getUint32(headLen - 4) !== crc32c(file, 0, headLen - 4)) {
    throw new SyntaxError("compressed segment block table CRC-32C mismatch");
  }
  const blocks: Block[] = [];
  let raw = 0;
  let comp = headLen;
  for (let i = 0; i < count; i++) {
    const at = FIXED_BYTES + i * entryBytes;
    const b: Block = {
      rawOffset: Number(dv.getBigUint64(at)),
      compOffset: Number(dv.getBigUint64(at + 8)),
      rawLength: dv.getUint32(at + 16),
      compLength: dv.getUint32(at + 20),
      firstSeq: Number(dv.getBigUint64(at + 24)),
      prevChain: file.slice(at + 32, at + 32 + CHAIN_SIZE),
    };
    if (entryBytes === ENTRY_BYTES) {
      b.times = { min: dv.getFloat64(at + 64), max: dv.getFloat64(at + 72) };
    }
    if (b.rawOffset !== raw || b.compOffset !== comp || b.compOffset + b.compLength > fileSize) {
      throw new SyntaxError(`compressed segment block ${i} is out of place`);
    }
    raw += b.rawLength;
    comp += b.compLength;
    blocks.push(b);
  }
  if (raw !== rawSize) {
    throw new SyntaxError(`compressed segment blocks hold ${raw} bytes, the table says ${rawSize}`);
  }
  return { rawSize, blocks };
}

/**
 * The length of the block table (fixed part, entries, CRC) of the file whose first 20 bytes are
 * `front`; throws SyntaxError on a magic it does not know.
 */
export function blockTableLength(front: Uint8Array): number {
  const count = new DataView(front.buffer, front.byteOffset, front.byteLength).getUint32(16);
  return FIXED_BYTES + count * entrySize(front) + 4;
}

/** The size of a block entry in the table of the file whose front is `file`, by its magic. */
function entrySize(file: Uint8Array): number {
  const magic = new TextDecoder().decode(file.subarray(0, 8));
  if (magic === COMPRESSED_MAGIC) return ENTRY_BYTES;
  if (magic === COMPRESSED_MAGIC_V1) return ENTRY_BYTES_V1;
  throw new SyntaxError(`bad compressed segment magic ${JSON.stringify(magic)}`);
}

/** Reads the block table of an open compressed file, and only it. */
export async function readBlockTable(file: Deno.FsFile): Promise<BlockTable> {
  const size = (await file.stat()).size;
  const fixed = await readAt(file, 0, FIXED_BYTES);
  if (fixed.length < FIXED_BYTES) throw new SyntaxError("compressed segment is cut short");
  const headLen = blockTableLength(fixed);
  if (headLen > size) {
    throw new SyntaxError(`compressed segment block table of ${headLen} bytes does not fit`);
  }
  return decodeBlockTable(await readAt(file, 0, headLen), size);
}

/** The compressed bytes of block `b` of an open file (what `decompressBlock` takes, at 0). */
export async function readBlockBytes(file: Deno.FsFile, b: Block): Promise<Uint8Array> {
  return await readAt(file, b.compOffset, b.compLength);
}

/** Decompresses block `b` of `file`; throws SyntaxError when it does not give its length. */
export function decompressBlock(file: Uint8Array, b: Block, index: number): Uint8Array {
  const raw = new Uint8Array(b.rawLength);
  decompressBlockInto(file, b, index, raw, 0);
  return raw;
}

/**
 * Decompresses block `b` of `file` into `out` at `at` (its raw length of bytes), allocating
 * nothing where the runtime allows (`zstd_into.ts`); throws SyntaxError when the block is damaged
 * or does not give its length.
 */
export function decompressBlockInto(
  file: Uint8Array,
  b: Block,
  index: number,
  out: Uint8Array,
  at: number,
): void {
  const packed = file.subarray(b.compOffset, b.compOffset + b.compLength);
  try {
    if (zstdDecompressInto(packed, out, at, b.rawLength)) return;
  } catch (e) {
    throw new SyntaxError(`compressed segment block ${index}: ${(e as Error).message}`);
  }
  let raw: Uint8Array;
  try {
    raw = zlib.zstdDecompressSync(packed);
  } catch (e) {
    throw new SyntaxError(`compressed segment block ${index}: ${(e as Error).message}`);
  }
  if (raw.length !== b.rawLength) {
    throw new SyntaxError(
      `compressed segment block ${index} gives ${raw.length} bytes, expected ${b.rawLength}`,
    );
  }
  out.set(raw, at);
}

/** The raw segment bytes of a whole compressed file, into `out` when given (shared memory). */
export function decompressSegment(file: Uint8Array, alloc?: (n: number) => Uint8Array): Uint8Array {
  const table = decodeBlockTable(file);
  const out = alloc ? alloc(table.rawSize) : new Uint8Array(table.rawSize);
  table.blocks.forEach((b, i) => decompressBlockInto(file, b, i, out, b.rawOffset));
  return out;
}

/** The compressed twin's path of a sealed segment's path. */
export function compressedPath(path: string): string {
  return `${path}z`;
}

/**
 * Replaces the sealed segment at `path` (whose first record has `firstSeq`) with its compressed
 * twin, checked byte for byte before the original goes. Returns the bytes saved.
 */
export async function compressSealedSegment(path: string, firstSeq: number): Promise<number> {
  const raw = await Deno.readFile(path);
  const packed = await compressSegmentBytes(raw, firstSeq);
  const target = compressedPath(path);
  const tmp = `${target}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o644 });
  try {
    for (let off = 0; off < packed.length;) off += await file.write(packed.subarray(off));
    await file.syncData();
  } finally {
    file.close();
  }
  await Deno.chmod(tmp, 0o444);
  if (!(await givesBack(tmp, raw))) {
    await Deno.remove(tmp);
    throw new Error(`compressing ${path} did not give its bytes back; it stays uncompressed`);
  }
  const dir = path.slice(0, path.lastIndexOf("/"));
  await Deno.rename(tmp, target);
  await syncDir(dir);
  await Deno.remove(path);
  await syncDir(dir);
  return raw.length - packed.length;
}

/**
 * Whether the compressed file at `path`, as it reached the disk, decompresses to `raw`: block by
 * block, so that checking a 64 MiB segment holds one block, not a second copy of it.
 */
async function givesBack(path: string, raw: Uint8Array): Promise<boolean> {
  const file = await Deno.readFile(path);
  let table: BlockTable;
  try {
    table = decodeBlockTable(file);
  } catch {
    return false;
  }
  if (table.rawSize !== raw.length) return false;
  for (const [i, b] of table.blocks.entries()) {
    let block: Uint8Array;
    try {
      block = decompressBlock(file, b, i);
    } catch {
      return false;
    }
    for (let k = 0; k < block.length; k++) {
      if (block[k] !== raw[b.rawOffset + k]) return false;
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  return true;
}

/**
 * Compresses sealed segments in the background, one at a time, in the order they were sealed. A
 * failure leaves the segment uncompressed (readers take both) and is logged.
 */
export class SealedCompressor {
  #chain: Promise<void> = Promise.resolve();

  /** Queues the sealed segment at `path`, whose first record has `firstSeq`. */
  queue(path: string, firstSeq: number): void {
    const segment = path.slice(path.lastIndexOf("/") + 1);
    this.#chain = this.#chain.then(async () => {
      try {
        const saved = await compressSealedSegment(path, firstSeq);
        log("info", "segment compressed", { segment, saved_bytes: saved });
      } catch (e) {
        log("warn", "segment left uncompressed", { segment, error: String(e) });
      }
    });
  }

  /** Resolves once every segment queued so far is done. */
  idle(): Promise<void> {
    return this.#chain;
  }
}
