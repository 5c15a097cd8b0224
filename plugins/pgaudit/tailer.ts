/**
 * Follows the log files a `path` glob matches, as they appear, rotate and go, and hands their
 * records on in order per file. Files are known by fingerprint (`fingerprint.ts`) with the
 * offset read so far (`tail_position.ts`), so that:
 *
 * - rename rotation: the renamed file keeps its fingerprint and is read on from its offset,
 *   through the handle already open even when the new name no longer matches the glob;
 * - `log_truncate_on_rotation`: the same name with new content is a new fingerprint, read from 0;
 * - copytruncate: the handle sees its file shrink ("replaced"); the copy, found by fingerprint,
 *   is read on from the offset, and the truncated original is a new file;
 * - a file rotated away is read to its end and kept open for `graceMs` after it last grew
 *   (a writer may still finish a record); only then is a cut-off last record given up on, as a
 *   bad record. "Rotated away" is what `current_logfiles` says when there is one; else a file
 *   is current while its path still leads to it and no other matched file was written later.
 *
 * Gaps are alarms: a known file that disappears with bytes never read is reported to `onGone`.
 */

import type { FileEntry, TailState } from "./tail_position.ts";
import { boundState } from "./tail_position.ts";
import { currentLogFile } from "./current_logfiles.ts";
import type { LogFormat } from "./decoder.ts";
import { FINGERPRINT_BYTES, fingerprintFile } from "./fingerprint.ts";
import { listGlob, type LogGlob } from "./glob.ts";
import { type FileDecoderOptions, type RecordSink, TailFile } from "./tail_file.ts";

/** How the tailer finds and leaves files. */
export interface TailerOptions {
  glob: LogGlob;
  format: LogFormat;
  decoder: FileDecoderOptions;
  /** Path of `current_logfiles`, or undefined to judge by paths and times. */
  currentLogfiles: string | undefined;
  /** How long a rotated-away file stays open after it last grew. */
  graceMs: number;
  /** Wall clock, ms. */
  now: () => number;
  /** A known file is gone though it had bytes not read (`entry.size > entry.offset`). */
  onGone: (entry: FileEntry) => Promise<void>;
  /**
   * Least time between two listings of the directory; default 0 (every poll). Files being
   * followed are read on every poll whatever this says: it bounds what a directory of
   * thousands of old files costs (a stat each), and how late a new file is found.
   */
  scanIntervalMs?: number;
}

/** Scans in a row a known file must be missing from before it is forgotten. */
const MISSING_SCANS = 3;

interface Seen {
  dev: number;
  ino: number;
  size: number;
  mtime: number;
  entry: FileEntry | undefined;
}

/** The set of files of one source and the state the position is made of. */
export class Tailer {
  readonly state: TailState;
  readonly #o: TailerOptions;
  readonly #active = new Map<FileEntry, TailFile>();
  /** Per path: what it was at the last scan, so unchanged files are not fingerprinted again. */
  #seen = new Map<string, Seen>();
  #missing = new Map<FileEntry, number>();
  #newestMtime = 0;
  #lastScan = -Infinity;

  constructor(state: TailState, opts: TailerOptions) {
    this.state = state;
    this.#o = opts;
  }

  /** How many files are being followed (held open) now. */
  get activeCount(): number {
    return this.#active.size;
  }

  /**
   * One round: finds files, reads every followed file to its end (or its share), and closes
   * those rotated away and idle past the grace period. True when a file has more to read now.
   */
  async poll(sink: RecordSink): Promise<boolean> {
    const started = this.#o.now();
    if (started - this.#lastScan >= (this.#o.scanIntervalMs ?? 0)) {
      this.#lastScan = started;
      await this.#scan();
    }
    const current = await this.#currentIdentity();
    let more = false;
    const order = new Map(this.state.files.map((e, i) => [e, i]));
    const files = [...this.#active.values()]
      .sort((a, b) => (order.get(a.entry) ?? 0) - (order.get(b.entry) ?? 0));
    for (const tf of files) {
      const now = this.#o.now();
      const r = await tf.read(sink, now);
      if (r === "replaced") {
        this.#deactivate(tf);
        continue;
      }
      if (r === "more") more = true;
      else if (!(await this.#isCurrent(tf, current)) && now - tf.lastGrowth >= this.#o.graceMs) {
        // Once more to the end, then give up on a record that never got its end.
        if ((await tf.read(sink, now)) === "eof") await tf.finish(sink);
        this.#deactivate(tf);
      }
    }
    return more;
  }

  /** Closes every handle. The state stays as the last record handed on left it. */
  close(): void {
    for (const tf of this.#active.values()) tf.close();
    this.#active.clear();
  }

  #deactivate(tf: TailFile): void {
    tf.close();
    this.#active.delete(tf.entry);
    this.#seen.delete(tf.path);
  }

  async #scan(): Promise<void> {
    const seenEntries = new Set<FileEntry>();
    const byInode = new Map<string, TailFile>();
    for (const tf of this.#active.values()) byInode.set(`${tf.dev}:${tf.ino}`, tf);
    const paths = await listGlob(this.#o.glob);
    const seen = new Map<string, Seen>();
    this.#newestMtime = 0;
    for (const path of paths) {
      const st = await statOrUndefined(path);
      if (st === undefined || !st.isFile || st.size === 0) continue;
      const mtime = st.mtime?.getTime() ?? 0;
      this.#newestMtime = Math.max(this.#newestMtime, mtime);
      const following = byInode.get(`${st.dev}:${st.ino}`);
      if (following !== undefined) {
        following.entry.name = baseName(path);
        seenEntries.add(following.entry);
        continue;
      }
      const before = this.#seen.get(path);
      if (
        before !== undefined && before.dev === st.dev && before.ino === st.ino &&
        before.size === st.size && before.mtime === mtime &&
        (before.entry === undefined || this.#active.has(before.entry) ||
          before.entry.offset >= st.size)
      ) {
        if (before.entry !== undefined) seenEntries.add(before.entry);
        seen.set(path, before);
        continue;
      }
      const entry = await this.#identify(path, st);
      if (entry !== undefined) seenEntries.add(entry);
      seen.set(path, { dev: st.dev, ino: st.ino ?? 0, size: st.size, mtime, entry });
    }
    this.#seen = seen;
    await this.#forget(seenEntries);
  }

  /** Finds which known file `path` holds, or makes it a new one; follows it when unread. */
  async #identify(path: string, st: Deno.FileInfo): Promise<FileEntry | undefined> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw new Error(`Cannot open the log file ${path}: ${(e as Error).message}`, { cause: e });
    }
    let handedOver = false;
    try {
      const short = new Set<number>();
      for (const e of this.state.files) if (e.length < FINGERPRINT_BYTES) short.add(e.length);
      const fp = await fingerprintFile(file, st.size, short);
      const mtime = st.mtime?.getTime() ?? 0;
      // The most specific match: a short entry may be the prefix of a longer one's content.
      let entry: FileEntry | undefined;
      for (const e of this.state.files) {
        if (
          fp.prefix.get(e.length) === e.hash && (entry === undefined || e.length > entry.length)
        ) {
          entry = e;
        }
      }
      if (entry === undefined) {
        // Not yet told apart from other files: wait for a whole line, unless the file has been
        // left alone past the grace period (a rotated file with only a cut-off line).
        if (!fp.settled && this.#o.now() - mtime < this.#o.graceMs) return undefined;

        if (this.state.floor > 0 && mtime <= this.state.floor) return undefined;
        entry = {
          hash: fp.full.hash,
          length: fp.full.length,
          offset: 0,
          line: 1,
          size: st.size,
          mtime,
          name: baseName(path),
        };
        this.state.files.push(entry);
        boundState(this.state, new Set([...this.#active.keys()].map((e) => e.hash)));
      } else {
        entry.name = baseName(path);
        entry.size = Math.max(entry.size, st.size);
        entry.mtime = mtime;
      }
      // Another path with the same content is being followed (a copy being made): one reader.
      if (this.#active.has(entry) || st.size <= entry.offset) return entry;
      const tf = await TailFile.open(entry, path, file, {
        ...this.#o.decoder,
        now: this.#o.now(),
      });
      handedOver = true;
      if (tf !== undefined) this.#active.set(entry, tf);
      return entry;
    } finally {
      if (!handedOver) file.close();
    }
  }

  /** Drops known files missing from several scans in a row; alarms for unread bytes. */
  async #forget(seenEntries: Set<FileEntry>): Promise<void> {
    const keep: FileEntry[] = [];
    for (const e of this.state.files) {
      if (seenEntries.has(e) || this.#active.has(e)) {
        this.#missing.delete(e);
        keep.push(e);
        continue;
      }
      const misses = (this.#missing.get(e) ?? 0) + 1;
      if (misses < MISSING_SCANS) {
        this.#missing.set(e, misses);
        keep.push(e);
        continue;
      }
      this.#missing.delete(e);
      if (e.size > e.offset) await this.#o.onGone(e);
    }
    this.state.files = keep;
  }

  /** `dev:ino` of the file `current_logfiles` names, or undefined without one. */
  async #currentIdentity(): Promise<string | undefined> {
    if (this.#o.currentLogfiles === undefined) return undefined;
    const path = await currentLogFile(this.#o.currentLogfiles, this.#o.format);
    if (path === undefined) return undefined;
    const st = await statOrUndefined(path);
    return st === undefined ? "" : `${st.dev}:${st.ino}`;
  }

  async #isCurrent(tf: TailFile, current: string | undefined): Promise<boolean> {
    if (current !== undefined) return current === `${tf.dev}:${tf.ino}`;
    const st = await statOrUndefined(tf.path);
    if (st === undefined || st.dev !== tf.dev || st.ino !== tf.ino) return false;
    return tf.mtime >= this.#newestMtime;
  }
}

async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`Cannot stat the log file ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
