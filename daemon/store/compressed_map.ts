/**
 * The seq map of a sealed segment stored compressed (`segment_compress.ts`): its block table
 * already says where each block's raw bytes start and which seq they start at, so reading one
 * event is reading and decompressing the one block that holds it, never the whole file.
 * Read-only. Mapping reads the table and counts the last block's events, once: a compressed
 * segment is sealed and never grows. Every event returned is checked as `event_frames.ts` says.
 * A block is decompressed into memory reused by the next (the events returned are decoded from
 * it, holding none of it): a page of search results spread over the log reads a block per
 * event, and a fresh 1 MiB buffer each was garbage that the collector, seeing a small heap,
 * freed late: the daemon's memory rose while auditors searched.
 */

import { StoreDamageError } from "./errors.ts";
import { eventsIn, readAtSync, type SeqMap, type SeqRecord } from "./event_frames.ts";
import { CHAIN_SIZE, FRAME_EVENT, FRAME_OVERHEAD, HEADER_SIZE, MIN_PAYLOAD } from "./frame.ts";
import {
  type Block,
  type BlockTable,
  decompressBlockInto,
  readBlockTable,
} from "./segment_compress.ts";
import type { SegmentEntry } from "./segment_file.ts";

/**
 * Raw bytes of the last block decompressed, by any map of this thread: each use reads them
 * synchronously right after `#block` fills them, so none outlives the next.
 */
let scratch = new Uint8Array(0);
/**
 * Which block `scratch` holds whole (its map and index), or null: a read that wants the same
 * block again takes it as it is. Reads in runs shorter than a block (the index's Worker reads
 * 2,048 events at a time; a block holds ~2,500 of the scale mix) decompressed most blocks twice.
 * A segment is sealed, so its blocks do not change; one altered on disk after it was read here is
 * read again once another block has been (every event is still checked by its CRC as it is
 * decoded, and verification reads the files themselves).
 */
let held: { map: CompressedMap; index: number } | null = null;

/** The map of one compressed segment. */
export class CompressedMap implements SeqMap {
  readonly entry: SegmentEntry;
  #table: BlockTable | null = null;
  #end: number;

  constructor(entry: SegmentEntry) {
    this.entry = entry;
    this.#end = entry.firstSeq;
  }

  get end(): number {
    return this.#end;
  }

  get complete(): boolean {
    return this.#table !== null;
  }

  get bytes(): number {
    return 256 + (this.#table?.blocks.length ?? 0) * 64;
  }

  async extend(_last: boolean): Promise<void> {
    if (this.#table !== null) return;
    using file = await Deno.open(this.entry.path, { read: true });
    const table = await this.#readTable(file);
    if (table.blocks[0]!.firstSeq !== this.entry.firstSeq) {
      throw new StoreDamageError(
        `block table starts at seq ${table.blocks[0]!.firstSeq}, the name says otherwise`,
        { segment: this.entry.name, offset: 0 },
      );
    }
    const i = table.blocks.length - 1;
    const last = table.blocks[i]!;
    const raw = this.#block(file, last, i);
    const n = countEvents(raw, last);
    if (n < 0) {
      throw new StoreDamageError("block holds a frame of impossible length", {
        segment: this.entry.name,
        offset: last.rawOffset,
      });
    }
    this.#end = last.firstSeq + n;
    this.#table = table;
  }

  /** The block table, read from the front of the file alone. */
  async #readTable(file: Deno.FsFile): Promise<BlockTable> {
    try {
      return await readBlockTable(file);
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      throw new StoreDamageError(e.message, { segment: this.entry.name, offset: 0 });
    }
  }

  read(seqs: readonly number[]): Promise<SeqRecord[]> {
    try {
      return Promise.resolve(this.#read(seqs));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #read(seqs: readonly number[]): SeqRecord[] {
    const blocks = this.#table!.blocks;
    const wanted = new Set(seqs);
    const want = (s: number): boolean => wanted.has(s);
    const out: SeqRecord[] = [];
    using file = Deno.openSync(this.entry.path, { read: true });
    let k = 0;
    while (k < seqs.length) {
      const i = blockOf(blocks, seqs[k]!);
      const b = blocks[i]!;
      const stop = blocks[i + 1]?.firstSeq ?? this.#end;
      while (k < seqs.length && seqs[k]! < stop) k++;
      const raw = this.#block(file, b, i);
      const start = b.rawOffset === 0 ? HEADER_SIZE : 0;
      for (
        const r of eventsIn(raw, { start, seq: b.firstSeq, stop, want }, {
          segment: this.entry.name,
          base: b.rawOffset,
        })
      ) out.push(r);
    }
    return out;
  }

  /** Block `b`'s raw bytes, in the shared scratch memory: use them before anything else runs. */
  #block(file: Deno.FsFile, b: Block, index: number): Uint8Array {
    if (held !== null && held.map === this && held.index === index) {
      return scratch.subarray(0, b.rawLength);
    }
    held = null; // from here `scratch` is being overwritten
    const packed = readAtSync(file, b.compOffset, b.compLength);
    if (scratch.length < b.rawLength) scratch = new Uint8Array(b.rawLength);
    const raw = scratch.subarray(0, b.rawLength);
    try {
      decompressBlockInto(packed, { ...b, compOffset: 0 }, index, raw, 0);
      held = { map: this, index };
      return raw;
    } catch (e) {
      throw new StoreDamageError((e as Error).message, {
        segment: this.entry.name,
        offset: b.compOffset,
      });
    }
  }
}

/** Index of the block holding `seq`: the last whose first seq is at or below it. */
function blockOf(blocks: readonly Block[], seq: number): number {
  let lo = 0, hi = blocks.length - 1, found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (blocks[mid]!.firstSeq <= seq) found = mid, lo = mid + 1;
    else hi = mid - 1;
  }
  return found;
}

/** Event frames in the raw bytes of block `b`; -1 when a frame length is impossible. */
function countEvents(raw: Uint8Array, b: Block): number {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let n = 0;
  for (let off = b.rawOffset === 0 ? HEADER_SIZE : 0; off + FRAME_OVERHEAD <= raw.length;) {
    const len = dv.getUint32(off);
    if (len < MIN_PAYLOAD || off + FRAME_OVERHEAD + len > raw.length) return -1;
    if (raw[off + FRAME_OVERHEAD + CHAIN_SIZE] === FRAME_EVENT) n++;
    off += FRAME_OVERHEAD + len;
  }
  return n;
}
