/**
 * Compresses a sealed segment file into its compressed twin (`segment_compress.ts` holds the
 * format), in memory that does not grow with the segment: the raw file is read a window at a time
 * to plan its blocks, then a block at a time to compress each, which is written where it goes;
 * the table goes in front last. Before, the whole 64 MiB segment, its compressed copy and the copy
 * read back were in memory at once (~100 MiB of a daemon under intake, at every seal).
 *
 * The twin is written next to the segment (tmp, fsync, rename, directory fsync), read back and
 * compared block by block with the original, and only then is the original removed. A crash at any
 * point leaves the original, a complete twin, or both; readers take the original while it is there.
 * The twin's bytes are those of compressing the segment whole in memory (the tests' oracle,
 * `tests/support/compress_whole.ts`, holds them to it).
 */

import { log } from "../log.ts";
import { readAt } from "./file_read.ts";
import { HEADER_SIZE } from "./frame.ts";
import {
  BlockPlanner,
  compressBlock,
  compressedPath,
  decompressBlock,
  encodeTable,
  plannedTimes,
  readBlockBytes,
  readBlockTable,
  tableLength,
} from "./segment_compress.ts";
import { syncDir } from "./segment_writer.ts";

/** Bytes of the raw segment read at a time to plan its blocks. */
const WINDOW_BYTES = 4 * 1024 * 1024;

/** Plans the blocks of the open raw segment `file` of `size` bytes, a window at a time. */
async function planFile(
  file: Deno.FsFile,
  size: number,
  firstSeq: number,
  windowBytes: number,
): Promise<BlockPlanner> {
  const header = await readAt(file, 0, Math.min(size, HEADER_SIZE));
  const planner = new BlockPlanner(header, firstSeq);
  let from = HEADER_SIZE;
  let base = HEADER_SIZE;
  let carry = new Uint8Array(0);
  while (base + carry.length < size && !planner.stopped) {
    const next = await readAt(
      file,
      base + carry.length,
      Math.min(windowBytes, size - base - carry.length),
    );
    // A sealed segment does not shrink; if it did, what was read is all there is to plan.
    if (next.length === 0) break;
    const buf = new Uint8Array(carry.length + next.length);
    buf.set(carry, 0);
    buf.set(next, carry.length);
    const cut = planner.scan(buf, base, from);
    if (cut < 0 || cut >= base + buf.length) {
      carry = new Uint8Array(0);
      base += buf.length;
      from = base;
    } else {
      // A frame cut off by the window: given again with the bytes after it.
      carry = buf.slice(cut - base);
      base = cut;
      from = cut;
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  return planner;
}

/**
 * Replaces the sealed segment at `path` (whose first record has `firstSeq`) with its compressed
 * twin, checked block by block before the original goes. Returns the bytes saved.
 * `windowBytes` is for tests.
 */
export async function compressSealedSegment(
  path: string,
  firstSeq: number,
  windowBytes = WINDOW_BYTES,
): Promise<number> {
  const target = compressedPath(path);
  const tmp = `${target}.tmp`;
  const raw = await Deno.open(path, { read: true });
  let packedSize: number;
  let rawSize: number;
  try {
    rawSize = (await raw.stat()).size;
    const plan = (await planFile(raw, rawSize, firstSeq, windowBytes)).end(rawSize);
    const out = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o644 });
    try {
      const lengths: number[] = [];
      let at = tableLength(plan.length);
      for (const b of plan) {
        const bytes = await readAt(raw, b.start, b.end - b.start);
        b.times = plannedTimes(b, bytes);
        const packed = compressBlock(bytes);
        await writeAt(out, at, packed);
        lengths.push(packed.length);
        at += packed.length;
        await new Promise((r) => setTimeout(r, 0));
      }
      await writeAt(out, 0, encodeTable(rawSize, plan, lengths));
      await out.syncData();
      packedSize = at;
    } finally {
      out.close();
    }
    await Deno.chmod(tmp, 0o444);
    if (!(await givesBack(tmp, raw, rawSize))) {
      await Deno.remove(tmp);
      throw new Error(`compressing ${path} did not give its bytes back; it stays uncompressed`);
    }
  } finally {
    raw.close();
  }
  const dir = path.slice(0, path.lastIndexOf("/"));
  await Deno.rename(tmp, target);
  await syncDir(dir);
  await Deno.remove(path);
  await syncDir(dir);
  return rawSize - packedSize;
}

async function writeAt(file: Deno.FsFile, offset: number, bytes: Uint8Array): Promise<void> {
  await file.seek(offset, Deno.SeekMode.Start);
  for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
}

/**
 * Whether the compressed file at `path`, as it reached the disk, decompresses to the bytes of the
 * open raw segment `raw`: block by block, one block of each in memory.
 */
async function givesBack(path: string, raw: Deno.FsFile, rawSize: number): Promise<boolean> {
  const file = await Deno.open(path, { read: true });
  try {
    let table;
    try {
      table = await readBlockTable(file);
    } catch {
      return false;
    }
    if (table.rawSize !== rawSize) return false;
    for (const [i, b] of table.blocks.entries()) {
      let block: Uint8Array;
      try {
        block = decompressBlock(await readBlockBytes(file, b), { ...b, compOffset: 0 }, i);
      } catch {
        return false;
      }
      const want = await readAt(raw, b.rawOffset, b.rawLength);
      if (want.length !== block.length) return false;
      for (let k = 0; k < block.length; k++) if (block[k] !== want[k]) return false;
      await new Promise((r) => setTimeout(r, 0));
    }
    return true;
  } finally {
    file.close();
  }
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
