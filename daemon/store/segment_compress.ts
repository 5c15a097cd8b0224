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
 * This module holds the format: planning blocks (a window of the raw bytes at a time, if need
 * be), compressing one, the table, and reading all of it back. Writing a sealed segment's twin
 * to disk, checked before the original goes, is `compress_file.ts`'s.
 */

import zlib from "node:zlib";
import { eventTimeSpan, type TimeSpan } from "./block_times.ts";
import { crc32c } from "./crc32c.ts";
import { readAt } from "./file_read.ts";
import { CHAIN_SIZE, FRAME_EVENT, HEADER_SIZE, scanFrames } from "./frame.ts";
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

/** A block as planned, before compression: its raw bytes, first seq, chain head and times. */
export interface PlannedBlock {
  start: number;
  end: number;
  seq: number;
  chain: Uint8Array;
  times?: TimeSpan;
}

/**
 * Splits the raw bytes of a sealed segment at record boundaries into blocks of about
 * BLOCK_BYTES, with their first seqs and chain heads. The bytes may come a window at a time
 * (`compress_file.ts` reads a 64 MiB segment so): `scan` takes the frames of one window, and
 * says where a frame is cut off, to be given again with the bytes after it. A damaged frame ends
 * the planning: the rest of the segment becomes the last block, as a whole-segment scan makes it.
 */
export class BlockPlanner {
  readonly blocks: PlannedBlock[] = [];
  #start = 0;
  #seq: number;
  #startSeq: number;
  #startChain: Uint8Array;
  #stopped = false;

  /** `header`: the segment's first HEADER_SIZE bytes (at least); `firstSeq`: its first record's. */
  constructor(header: Uint8Array, firstSeq: number) {
    this.#seq = this.#startSeq = firstSeq;
    // The header's chain head before the first record; then each frame's chain field.
    this.#startChain = header.slice(16, 16 + CHAIN_SIZE);
  }

  /** Whether a damaged frame ended the planning. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Plans the frames of `buf`, the segment's bytes from offset `base`, starting at offset `from`.
   * Returns the offset where a frame is cut off by the window's end (the whole window read: its
   * length past `base`), or -1 once a damaged frame stopped the planning.
   */
  scan(buf: Uint8Array, base: number, from: number): number {
    if (this.#stopped) return -1;
    const stop = scanFrames(buf, from - base, buf.length, (f) => {
      const end = base + f.payload + f.length;
      if (f.type === FRAME_EVENT) this.#seq++;
      if (end - this.#start >= BLOCK_BYTES) {
        this.blocks.push({
          start: this.#start,
          end,
          seq: this.#startSeq,
          chain: this.#startChain,
        });
        this.#start = end;
        this.#startSeq = this.#seq;
        this.#startChain = buf.slice(f.payload, f.payload + CHAIN_SIZE);
      }
    });
    if (stop.kind === "end") return base + buf.length;
    if (stop.kind === "partial") return base + stop.offset;
    this.#stopped = true;
    return -1;
  }

  /** The blocks of a segment of `rawSize` bytes, the rest after the last boundary the last. */
  end(rawSize: number): PlannedBlock[] {
    if (this.#start < rawSize || this.blocks.length === 0) {
      this.blocks.push({
        start: this.#start,
        end: rawSize,
        seq: this.#startSeq,
        chain: this.#startChain,
      });
    }
    return this.blocks;
  }
}

/** The time span of planned block `b`, given its raw bytes. */
export function plannedTimes(b: PlannedBlock, bytes: Uint8Array): TimeSpan {
  return eventTimeSpan(bytes, Math.max(b.start, HEADER_SIZE) - b.start, bytes.length);
}

/** One block's raw bytes compressed, as every compressed segment holds them. */
export function compressBlock(bytes: Uint8Array): Uint8Array {
  return zlib.zstdCompressSync(bytes, {
    params: {
      [zlib.constants.ZSTD_c_compressionLevel]: LEVEL,
      [zlib.constants.ZSTD_c_checksumFlag]: 1,
    },
  });
}

/** Length of the block table (fixed part, entries, CRC) of a file of `count` blocks. */
export function tableLength(count: number): number {
  return FIXED_BYTES + count * ENTRY_BYTES + 4;
}

/**
 * The block table of a compressed segment of `rawSize` raw bytes: `plan` with each block's
 * times, `compLengths` each block's compressed length, the blocks stored in order after it.
 */
export function encodeTable(
  rawSize: number,
  plan: readonly PlannedBlock[],
  compLengths: readonly number[],
): Uint8Array {
  const headLen = tableLength(plan.length);
  const out = new Uint8Array(headLen);
  const dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode(COMPRESSED_MAGIC), 0);
  dv.setBigUint64(8, BigInt(rawSize));
  dv.setUint32(16, plan.length);
  let comp = headLen;
  plan.forEach((b, i) => {
    const at = FIXED_BYTES + i * ENTRY_BYTES;
    dv.setBigUint64(at, BigInt(b.start));
    dv.setBigUint64(at + 8, BigInt(comp));
    dv.setUint32(at + 16, b.end - b.start);
    dv.setUint32(at + 20, compLengths[i]!);
    dv.setBigUint64(at + 24, BigInt(b.seq));
    out.set(b.chain, at + 32);
    dv.setFloat64(at + 64, b.times!.min);
    dv.setFloat64(at + 72, b.times!.max);
    comp += compLengths[i]!;
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
