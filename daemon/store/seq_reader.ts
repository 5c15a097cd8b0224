/**
 * Reading events from the log by seq, for everything that shows an event to a person: the event
 * page, search results, `vigil query`. The log, not the derived index, is what anyone sees, and
 * this makes that cheap: a page of 50 events costs a few small reads, never a whole segment.
 *
 * Promises: read-only (it never writes to the data directory, so any reader may use it beside the
 * writer); it returns exactly the events `readLog` yields for the same seqs — whole group commits
 * only — each checked (CRC, and that it carries the seq asked for) or a StoreDamageError naming
 * the place; and its memory is bounded whatever the store's size. Each segment gets a map: a
 * sparse seq-to-offset map for a plain segment (`segment_map.ts`, 4 bytes per 64 events), the
 * block table for a compressed one (`compressed_map.ts`). Maps live in an LRU of `cacheBytes`;
 * a map evicted is built again on its next read. The newest segment is mapped as it grows, from
 * where its last scan stopped. A segment compressed while it is read is found again under its
 * new name; one deleted by retention reads as missing seqs.
 *
 * @example
 * ```ts
 * const reader = await SeqReader.open(dataDir);
 * const [rec] = await reader.read([48_211]);
 * for await (const chunk of reader.scan(0, await reader.end(), { order: "desc" })) { … }
 * ```
 */

import { CompressedMap } from "./compressed_map.ts";
import type { SeqMap, SeqRecord } from "./event_frames.ts";
import { checkDataFormat } from "./format.ts";
import { SegmentMap, STRIDE } from "./segment_map.ts";
import { listSegments, type SegmentEntry } from "./segment_file.ts";
import { storePaths } from "./store_open.ts";

export type { SeqRecord } from "./event_frames.ts";

/** How to open a reader. */
export interface SeqReaderOptions {
  /** Memory for segment maps, bytes. Default 8 MiB: the maps of ~100M events. */
  cacheBytes?: number;
}

const DEFAULT_CACHE_BYTES = 8 * 1024 * 1024;
/** Default events per chunk of a scan. */
const SCAN_CHUNK = 2048;

/** Events of the log read by seq, beside a writer or without one. */
export class SeqReader {
  readonly dataDir: string;
  #dir: string;
  #segments: SegmentEntry[] = [];
  /** Maps by first seq, least recently used first. */
  #maps = new Map<number, SeqMap>();
  #limit: number;

  private constructor(dataDir: string, limit: number) {
    this.dataDir = dataDir;
    this.#dir = storePaths(dataDir).segments;
    this.#limit = limit;
  }

  /** A reader of `dataDir`; throws DataFormatError for a directory of a newer format. */
  static async open(dataDir: string, opts: SeqReaderOptions = {}): Promise<SeqReader> {
    const limit = opts.cacheBytes ?? DEFAULT_CACHE_BYTES;
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new RangeError(`Cannot open a seq reader of ${dataDir}: bad cacheBytes ${limit}`);
    }
    await checkDataFormat(dataDir);
    const r = new SeqReader(dataDir, limit);
    await r.#list();
    return r;
  }

  /** Bytes the segment maps hold now: at most the budget, or a single map above it. */
  get cachedBytes(): number {
    let total = 0;
    for (const m of this.#maps.values()) total += m.bytes;
    return total;
  }

  async #list(): Promise<void> {
    this.#segments = await listSegments(this.#dir);
    const current = new Map(this.#segments.map((s) => [s.firstSeq, s.name]));
    // A map of a file that is gone (deleted, or replaced by its compressed twin) is dropped.
    for (const [first, m] of [...this.#maps]) {
      if (current.get(first) !== m.entry.name) this.#maps.delete(first);
    }
  }

  /** Index in #segments of the segment that would hold `seq`, or -1 before the first. */
  #segmentOf(seq: number): number {
    let lo = 0, hi = this.#segments.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#segments[mid]!.firstSeq <= seq) found = mid, lo = mid + 1;
      else hi = mid - 1;
    }
    return found;
  }

  /** The map of segment `i`, mapped at least up to `seq` when the segment holds it. */
  async #mapFor(i: number, seq: number): Promise<SeqMap> {
    const entry = this.#segments[i]!;
    const m = this.#maps.get(entry.firstSeq) ??
      (entry.compressed ? new CompressedMap(entry) : new SegmentMap(entry));
    // Most recently used last; the map is in the cache while it grows, so that a second caller
    // shares its walk instead of starting another.
    this.#maps.delete(entry.firstSeq);
    this.#maps.set(entry.firstSeq, m);
    try {
      if (!m.complete && seq >= m.end) await m.extend(i === this.#segments.length - 1);
    } finally {
      this.#evict();
    }
    return m;
  }

  #evict(): void {
    let total = this.cachedBytes;
    for (const [first, m] of this.#maps) {
      if (total <= this.#limit || this.#maps.size <= 1) return;
      this.#maps.delete(first);
      total -= m.bytes;
    }
  }

  /**
   * Runs `fn` and, when a segment file it used is gone — compressed or deleted since it was
   * listed — lists the segments again and runs it once more.
   */
  async #retrying<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      await this.#list();
      return await fn();
    }
  }

  /**
   * The map of the segment holding `seq`, or null when no segment on disk holds it (deleted by
   * retention, or past the durable end). Past the newest segment known it looks for new ones.
   */
  async #locate(seq: number): Promise<{ map: SeqMap; index: number } | null> {
    let i = this.#segmentOf(seq);
    if (i >= 0) {
      const map = await this.#mapFor(i, seq);
      if (seq < map.end) return { map, index: i };
      if (i < this.#segments.length - 1) return null;
    } else if (this.#segments.length > 0) return null; // before the oldest: deleted
    await this.#list();
    i = this.#segmentOf(seq);
    if (i < 0) return null;
    const map = await this.#mapFor(i, seq);
    return seq < map.end ? { map, index: i } : null;
  }

  /** Seq of the oldest event on disk (after retention), or `end()` when there is none. */
  async start(): Promise<number> {
    await this.#list();
    return this.#segments[0]?.firstSeq ?? await this.end();
  }

  /** The log's durable size: the seq after the newest whole group commit on disk. */
  async end(): Promise<number> {
    await this.#list();
    const last = this.#segments.length - 1;
    // A segment is named after its first seq, so the newest one's end is the log's, even empty.
    return last < 0 ? 0 : (await this.#retrying(() => this.#mapFor(last, Infinity))).end;
  }

  /** The event of `seq`, or null when the log does not hold it. */
  async get(seq: number): Promise<SeqRecord | null> {
    return (await this.read([seq]))[0] ?? null;
  }

  /**
   * The events of `seqs` that the log holds, in ascending seq order, each once; seqs it does
   * not hold (negative, deleted by retention, not durable yet) are left out.
   */
  async read(seqs: readonly number[]): Promise<SeqRecord[]> {
    const wanted = [...new Set(seqs)].filter((s) => Number.isSafeInteger(s) && s >= 0)
      .sort((a, b) => a - b);
    const out: SeqRecord[] = [];
    let k = 0;
    while (k < wanted.length) {
      const first = wanted[k]!;
      // The seqs of one segment, read through its map; again once if its file moved meanwhile.
      const got = await this.#retrying(async () => {
        const found = await this.#locate(first);
        if (found === null) return { taken: 1, records: [] as SeqRecord[] };
        const next = this.#segments[found.index + 1]?.firstSeq ?? Infinity;
        let j = k;
        while (j < wanted.length && wanted[j]! < next) j++;
        const top = wanted[j - 1]!;
        if (top >= found.map.end && !found.map.complete) await this.#locate(top);
        const held = wanted.slice(k, j).filter((s) => s < found.map.end);
        return { taken: j - k, records: held.length ? await found.map.read(held) : [] };
      });
      k += got.taken;
      for (const r of got.records) out.push(r);
    }
    return out;
  }

  /**
   * The events with seq in [from, to) that the log holds, in chunks of about `chunk` events, in
   * ascending or descending seq order. Memory is one chunk whatever the range.
   */
  async *scan(
    from: number,
    to: number,
    opts: { order?: "asc" | "desc"; chunk?: number } = {},
  ): AsyncGenerator<SeqRecord[]> {
    const chunk = Math.max(STRIDE, opts.chunk ?? SCAN_CHUNK);
    if (opts.order !== "desc") {
      for await (const [a, b] of this.chunkRanges(from, to, chunk)) {
        const recs = await this.readRange(a, b);
        if (recs.length > 0) yield recs;
      }
      return;
    }
    const [lo, hi] = await this.#held(from, to);
    for (let top = hi; top > lo; top -= chunk) {
      const recs = await this.readRange(Math.max(lo, top - chunk), top);
      if (recs.length > 0) yield recs.reverse();
    }
  }

  /**
   * The seq ranges an ascending `scan` of [from, to) reads, `chunk` (at least {@link STRIDE})
   * seqs each from the first the log holds: for a reader that reads each in smaller pieces
   * (`readRange`) and still wants `scan`'s chunks.
   */
  async *chunkRanges(from: number, to: number, chunk: number): AsyncGenerator<[number, number]> {
    const step = Math.max(STRIDE, chunk);
    const [lo, hi] = await this.#held(from, to);
    for (let at = lo; at < hi; at += step) yield [at, Math.min(hi, at + step)];
  }

  /** [from, to) narrowed to the seqs the log holds (empty: lo ≥ hi). */
  async #held(from: number, to: number): Promise<[number, number]> {
    const lo = Math.max(0, from);
    if (!(to > lo)) return [lo, lo];
    const hi = Math.min(to, await this.end());
    return [Math.max(lo, this.#segments[0]?.firstSeq ?? hi), hi];
  }

  /** The events with seq in [from, to) that the log holds, as `read` gives them. */
  readRange(from: number, to: number): Promise<SeqRecord[]> {
    return this.read(seqRange(from, to));
  }
}

/** The seqs [from, to). */
function seqRange(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}
