/**
 * What the start checks read of each sealed segment at the last start, kept so that the next
 * start does not read it again: the start then costs a `stat` per sealed segment (microseconds)
 * instead of a block read (~1.5 ms), which at 100M events and beyond is the difference between
 * a start that grows with history and one that does not.
 *
 * Promises: a segment's ends are taken from the cache only when its file is the very file they
 * were read from — same name, size, inode, modification and status-change times. Any write to
 * the file (a flipped byte, a cut, a copy put in its place) changes its status-change time,
 * which no program can set back, so the ends are read again and checked as before. Only ends
 * of a start check that passed are saved (damage is never cached as good). The cache is derived
 * data: missing, unreadable or of another version, it is ignored and rewritten; it can make a
 * start check faster, never pass one the file would fail. What no start check reads — bytes
 * inside a segment — stays the full verification's to find.
 */

import { hex, unhex } from "./keys.ts";
import type { Ends } from "./segment_ends.ts";
import type { SegmentEntry } from "./segment_file.ts";

/** The cache's file in the data directory. */
export const SEAL_CACHE_FILE = "sealed-ends.json";
const VERSION = 1;

/** One sealed segment's ends and the identity of the file they were read from. */
interface Kept {
  name: string;
  size: number;
  ino: number;
  mtime: number;
  ctime: number;
  firstSeq: number;
  prevChain: string;
  nextSeq: number;
  chain: string;
  claim: number;
}

/** The sealed ends known from the last start, and those read at this one. */
export class SealCache {
  readonly #path: string;
  readonly #kept: Map<string, Kept>;
  readonly #now = new Map<string, Kept>();
  /** Segments whose ends came from the cache, for the start's log line. */
  hits = 0;

  private constructor(path: string, kept: Map<string, Kept>) {
    this.#path = path;
    this.#kept = kept;
  }

  /** The cache of `dataDir`; empty when there is none or it cannot be read. */
  static async open(dataDir: string): Promise<SealCache> {
    const path = `${dataDir}/${SEAL_CACHE_FILE}`;
    const kept = new Map<string, Kept>();
    try {
      const doc = JSON.parse(await Deno.readTextFile(path)) as { version?: number; kept?: Kept[] };
      if (doc.version === VERSION && Array.isArray(doc.kept)) {
        for (const k of doc.kept) if (typeof k?.name === "string") kept.set(k.name, k);
      }
    } catch {
      // Derived data: none, or unreadable, means every segment is read as without a cache.
    }
    return new SealCache(path, kept);
  }

  /** The ends of sealed segment `entry`: from the cache when its file is unchanged, else `read`. */
  async ends(entry: SegmentEntry, read: (e: SegmentEntry) => Promise<Ends>): Promise<Ends> {
    const id = await identity(entry.path);
    const k = this.#kept.get(entry.name);
    if (id !== null && k !== undefined && sameFile(k, id)) {
      this.hits++;
      this.#now.set(entry.name, k);
      return {
        firstSeq: k.firstSeq,
        prevChain: unhex(k.prevChain),
        nextSeq: k.nextSeq,
        chain: unhex(k.chain),
        claim: k.claim,
      };
    }
    const ends = await read(entry);
    // The identity taken before the read: a file changed while it was read is read again.
    if (id !== null) {
      this.#now.set(entry.name, {
        name: entry.name,
        ...id,
        firstSeq: ends.firstSeq,
        prevChain: hex(ends.prevChain),
        nextSeq: ends.nextSeq,
        chain: hex(ends.chain),
        claim: ends.claim,
      });
    }
    return ends;
  }

  /** Keeps the ends read at this start (call only when the start checks passed). */
  async save(): Promise<void> {
    const tmp = `${this.#path}.tmp`;
    const doc = { version: VERSION, kept: [...this.#now.values()] };
    await Deno.writeTextFile(tmp, JSON.stringify(doc) + "\n", { mode: 0o600 });
    await Deno.rename(tmp, this.#path);
  }
}

type Identity = Pick<Kept, "size" | "ino" | "mtime" | "ctime">;

async function identity(path: string): Promise<Identity | null> {
  try {
    const s = await Deno.stat(path);
    if (s.ino === null || s.mtime === null || s.ctime === null) return null;
    return { size: s.size, ino: s.ino, mtime: s.mtime.getTime(), ctime: s.ctime.getTime() };
  } catch {
    return null;
  }
}

function sameFile(k: Kept, id: Identity): boolean {
  return k.size === id.size && k.ino === id.ino && k.mtime === id.mtime && k.ctime === id.ctime;
}
