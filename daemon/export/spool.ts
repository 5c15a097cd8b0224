/**
 * Sorting a run of the log into partitions on disk. Events arrive in seq order with sources and
 * days interleaved, while each Parquet file holds one partition: rather than keep every
 * partition's events in memory until the run ends, each event's canonical JSON bytes are copied,
 * as they are in the segment, into its partition's lines (one JSON object a line: canonical
 * JSON has no raw newline), and read back as Arrow tables a batch at a time, straight from the
 * bytes, when the partition's Parquet file is written (`spool_tables.ts`). Nothing is decoded on
 * the way in; memory
 * stays at a pool of 8 MiB of buffered lines however long the run and however many partitions.
 *
 * Every partition's lines go to one spool file, appended to as the pool is written out, each
 * partition's runs of bytes in it recorded (`SpooledPartition.extents`): a file per partition
 * cost an open per partition at every write-out and a removal each, more than the writing
 * (~1,000 opens for a range of 200k events). The spool takes as much disk as the canonical JSON
 * of the run, beside the bundle being written, until the bundle's files are written.
 */

import { releaseBuffer } from "./log_scan.ts";
import { type Partition, utcDate } from "./partition.ts";

/** What is known of one partition's events once spooled. */
export interface SpooledPartition extends Partition {
  rows: number;
  firstSeq: number;
  lastSeq: number;
  /** Chain hash before the first event and after the last. */
  chainBefore: Uint8Array;
  chainAfter: Uint8Array;
  /** The spool file, which holds the partition's canonical JSON lines among others'. */
  file: string;
  /**
   * Where its lines are in `file`, in order: runs of bytes, `extents[2k]` their offset and
   * `extents[2k + 1]` their length. Each ends at the end of a line.
   */
  extents: number[];
}

/**
 * Lines are buffered in blocks from one pool shared by every partition: `POOL_BLOCKS` of
 * `BLOCK_BYTES` (8 MiB), all written out when the pool runs dry (blocks of 16 KiB took a write
 * call each, which cost more than the copying). The blocks are reused, never
 * grown: buffers grown and dropped per partition left ~200 MiB of garbage outside V8's heap,
 * which it collects late; and however many partitions a long range has, they share the pool.
 */
const BLOCK_BYTES = 64 * 1024;
const POOL_BLOCKS = 128;
const US_PER_DAY = 86_400_000_000;
const EMPTY = new Uint8Array(0);
const NEWLINE = new Uint8Array([0x0a]);

interface Part {
  info: SpooledPartition;
  /** Lines not yet in the file, packed into blocks; the last one filled up to `used`. */
  blocks: Uint8Array[];
  used: number;
  /** Where the chain after the partition's latest event is, until `settle()` copies it. */
  afterIn: Uint8Array | null;
  afterAt: number;
}

/**
 * One event as the spool takes it: its seq, time and source, and where in `buf` (a segment)
 * its canonical JSON and the chain hashes before and after it are. Reused from event to event.
 */
export interface SpoolEvent {
  seq: number;
  ts: number;
  source: string;
  buf: Uint8Array;
  start: number;
  end: number;
  /**
   * The chain before the event: at `beforeAt` in `buf`, or `before` itself when `beforeAt` is
   * -1. Read only for a partition's first event, and copied.
   */
  before: Uint8Array;
  beforeAt: number;
  /** Offset in `buf` of the chain hash after the event. */
  afterAt: number;
}

/** The spool file of one export, in a directory of its own. */
export class PartitionSpool {
  readonly #path: string;
  /** The spool file, open from the first write-out to `finish()`, and its length. */
  #file: Deno.FsFile | null = null;
  #size = 0;
  /** By source, then by UTC day number: no key string is built per event. */
  #parts = new Map<string, Map<number, Part>>();
  /** The pool, one buffer (freed at once when done), and its blocks not in use. */
  #pool: Uint8Array | null = null;
  #free: Uint8Array[] = [];
  /** Blocks taken from the pool (or made past it, for an event larger than the pool). */
  #inUse = 0;

  constructor(dir: string) {
    this.#path = `${dir}/lines.jsonl`;
  }

  /**
   * Appends one event's canonical JSON to its partition. Events must come in seq order, and
   * `settle()` must run before `buf` is let go. Synchronous, as it runs once per exported event.
   */
  add(ev: SpoolEvent): void {
    const day = Math.floor(ev.ts / US_PER_DAY);
    let bySource = this.#parts.get(ev.source);
    if (!bySource) this.#parts.set(ev.source, bySource = new Map());
    let part = bySource.get(day);
    if (!part) {
      const info: SpooledPartition = {
        source: ev.source,
        date: utcDate(ev.ts),
        rows: 0,
        firstSeq: ev.seq,
        lastSeq: ev.seq,
        chainBefore: ev.beforeAt < 0
          ? ev.before.slice()
          : ev.buf.slice(ev.beforeAt, ev.beforeAt + 32),
        chainAfter: EMPTY,
        file: this.#path,
        extents: [],
      };
      part = { info, blocks: [], used: BLOCK_BYTES, afterIn: null, afterAt: 0 };
      bySource.set(day, part);
    }
    part.info.rows++;
    part.info.lastSeq = ev.seq;
    part.afterIn = ev.buf;
    part.afterAt = ev.afterAt;
    const n = ev.end - ev.start;
    const block = part.blocks[part.blocks.length - 1];
    if (block && part.used + n < BLOCK_BYTES) {
      // The common case, one copy: the line and its newline fit the partition's block.
      block.set(ev.buf.subarray(ev.start, ev.end), part.used);
      block[part.used + n] = 0x0a;
      part.used += n + 1;
      return;
    }
    this.#append(part, ev.buf.subarray(ev.start, ev.end));
    this.#append(part, NEWLINE);
  }

  #append(part: Part, bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length;) {
      if (part.used === BLOCK_BYTES) {
        part.blocks.push(this.#take());
        part.used = 0;
        this.#inUse++;
      }
      const n = Math.min(BLOCK_BYTES - part.used, bytes.length - at);
      part.blocks.at(-1)!.set(n === bytes.length ? bytes : bytes.subarray(at, at + n), part.used);
      part.used += n;
      at += n;
    }
  }

  /** Copies out the chain hashes that still point into a segment, before it is let go. */
  settle(): void {
    for (const bySource of this.#parts.values()) {
      for (const part of bySource.values()) {
        if (!part.afterIn) continue;
        part.info.chainAfter = part.afterIn.slice(part.afterAt, part.afterAt + 32);
        part.afterIn = null;
      }
    }
  }

  /** A free block of the pool, or one made past it for an event larger than the pool. */
  #take(): Uint8Array {
    if (!this.#pool) {
      this.#pool = new Uint8Array(POOL_BLOCKS * BLOCK_BYTES);
      for (let i = POOL_BLOCKS - 1; i >= 0; i--) {
        this.#free.push(this.#pool.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES));
      }
    }
    return this.#free.pop() ?? new Uint8Array(BLOCK_BYTES);
  }

  /** True when the pool is used up: call `flush()` before the next event. */
  get full(): boolean {
    return this.#inUse >= POOL_BLOCKS;
  }

  /**
   * Appends every buffered line to the spool file, each partition's as one run, and gives the
   * blocks back to the pool. The writes are synchronous: they go to the page cache (nothing here
   * is synced), and each awaited write of a block was a round trip through the I/O threads
   * that, on a busy machine, cost more than the copy itself.
   */
  flush(): void {
    for (const bySource of this.#parts.values()) {
      for (const part of bySource.values()) {
        if (part.blocks.length === 0) continue;
        const file = this.#file ??= Deno.openSync(this.#path, { write: true, createNew: true });
        const last = part.blocks.length - 1;
        const start = this.#size;
        for (const [i, block] of part.blocks.entries()) {
          const bytes = i === last ? block.subarray(0, part.used) : block;
          for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
          this.#size += bytes.length;
          if (block.buffer === this.#pool?.buffer) this.#free.push(block);
        }
        part.info.extents.push(start, this.#size - start);
        this.#inUse -= part.blocks.length;
        part.blocks = [];
        part.used = BLOCK_BYTES;
      }
    }
  }

  /** Closes the spool file if open (`finish()` does); the partitions' extents stay readable. */
  [Symbol.dispose](): void {
    this.#file?.close();
    this.#file = null;
  }

  /** Writes out what is buffered; returns the partitions in the order of their files' paths. */
  finish(): SpooledPartition[] {
    this.settle();
    this.flush();
    this[Symbol.dispose]();
    // The pool's memory is not needed while the files are written.
    this.#free = [];
    if (this.#pool) releaseBuffer(this.#pool);
    this.#pool = null;
    const parts = [...this.#parts.values()].flatMap((bySource) => [...bySource.values()]);
    return parts.map((p) => p.info).sort((a, b) =>
      a.date < b.date ? -1 : a.date > b.date ? 1 : a.firstSeq - b.firstSeq
    );
  }
}
