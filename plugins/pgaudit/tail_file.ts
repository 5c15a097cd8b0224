/**
 * One log file being followed: an open handle (so a file renamed or unlinked by rotation can
 * still be read to its end), the decoder that turns its bytes into records, and the checks that
 * the handle still holds the content the fingerprint names. A handle whose file shrank below
 * what was read (copytruncate, `log_truncate_on_rotation`) or whose first bytes changed no
 * longer holds that content: it reports `replaced`, and the tailer looks for the content
 * elsewhere (the copy) by its fingerprint.
 */

import { createLogDecoder, type LogDecoder, type LogDecoderOptions } from "./decoder.ts";
import { FINGERPRINT_BYTES, fingerprintOf, readHead } from "./fingerprint.ts";
import type { LogRecord } from "./record.ts";
import type { FileEntry } from "./tail_position.ts";

/** Decoder settings shared by every file of a source. */
export type FileDecoderOptions = Omit<LogDecoderOptions, "file" | "startOffset" | "startLine">;

/**
 * Receives the records of one read, in order; resolves once they are handed on. The sink
 * advances `file.entry.offset` (and `line`) past each record it has taken: the entry is what
 * the position is made of, and only the sink knows what has been handed on.
 */
export type RecordSink = (file: TailFile, records: LogRecord[]) => Promise<void>;

/** What a `read` found. */
export type ReadResult = "more" | "eof" | "replaced";

const CHUNK_BYTES = 1 << 20;
/** Bytes one `read` call takes at most, so that one busy file cannot starve the others. */
const READ_BUDGET = 16 << 20;

/** A followed file. */
export class TailFile {
  readonly entry: FileEntry;
  /** The path it was opened at (it may have moved since). */
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  #file: Deno.FsFile;
  #decoder: LogDecoder;
  /** File offset of the next byte to give the decoder. */
  #readPos: number;
  #chunk = new Uint8Array(CHUNK_BYTES);
  /** Clock time (ms) of the last read that found new bytes. */
  lastGrowth: number;
  /** Modification time (ms) at the last read. */
  mtime: number;

  private constructor(
    entry: FileEntry,
    path: string,
    file: Deno.FsFile,
    stat: Deno.FileInfo,
    opts: FileDecoderOptions,
    now: number,
  ) {
    this.entry = entry;
    this.path = path;
    this.dev = stat.dev;
    this.ino = stat.ino ?? 0;
    this.#file = file;
    this.#readPos = entry.offset;
    this.lastGrowth = now;
    this.mtime = stat.mtime?.getTime() ?? 0;
    this.#decoder = createLogDecoder({
      ...opts,
      file: path,
      startOffset: entry.offset,
      startLine: entry.line,
    });
  }

  /**
   * Follows `file` (open at `path`) as `entry`, from `entry.offset`. Returns undefined, closing
   * the file, when its first bytes are not the entry's content or it is shorter than the offset.
   */
  static async open(
    entry: FileEntry,
    path: string,
    file: Deno.FsFile,
    opts: FileDecoderOptions & { now: number },
  ): Promise<TailFile | undefined> {
    const { now, ...decoder } = opts;
    const stat = await file.stat();
    const head = await readHead(file, entry.length);
    if (
      stat.size < entry.offset || head.length < entry.length ||
      fingerprintOf(head).hash !== entry.hash
    ) {
      file.close();
      return undefined;
    }
    return new TailFile(entry, path, file, stat, decoder, now);
  }

  /** Reads what has been written since, giving its records to `sink`. */
  async read(sink: RecordSink, now: number): Promise<ReadResult> {
    const stat = await this.#file.stat();
    this.mtime = stat.mtime?.getTime() ?? this.mtime;
    if (stat.size < this.#readPos) return "replaced";
    // Checked on every read, not only when the size changed: a file truncated and written
    // again up to the very size it had (equal-length records do that) looks unchanged.
    if (!(await this.#sameContent(stat.size))) return "replaced";
    this.entry.size = stat.size;
    this.entry.mtime = this.mtime;
    let taken = 0;
    await this.#file.seek(this.#readPos, Deno.SeekMode.Start);
    while (taken < READ_BUDGET) {
      const n = await this.#file.read(this.#chunk);
      if (n === null || n === 0) break;
      this.#readPos += n;
      taken += n;
      const records: LogRecord[] = [];
      this.#decoder.push(this.#chunk.subarray(0, n), (r) => records.push(r));
      if (records.length > 0) await sink(this, records);
    }
    if (taken > 0) this.lastGrowth = now;
    if (this.#readPos > this.entry.size) this.entry.size = this.#readPos;
    if (taken >= READ_BUDGET) return "more";
    const idle: LogRecord[] = [];
    this.#decoder.idle((r) => idle.push(r));
    if (idle.length > 0) await sink(this, idle);
    return "eof";
  }

  /** The file is done with: what the decoder holds comes out (a cut-off record as bad). */
  async finish(sink: RecordSink): Promise<void> {
    const rest: LogRecord[] = [];
    this.#decoder.end((r) => rest.push(r));
    if (rest.length > 0) await sink(this, rest);
  }

  close(): void {
    try {
      this.#file.close();
    } catch { /* already closed */ }
  }

  /**
   * True while the first bytes are still the entry's; extends a short file's fingerprint as
   * the file grows, so that it soon covers the full `FINGERPRINT_BYTES`.
   */
  async #sameContent(size: number): Promise<boolean> {
    const e = this.entry;
    const want = Math.min(size, FINGERPRINT_BYTES);
    const head = await readHead(this.#file, want);
    if (head.length < e.length || fingerprintOf(head.subarray(0, e.length)).hash !== e.hash) {
      return false;
    }
    if (head.length > e.length) {
      const grown = fingerprintOf(head);
      e.hash = grown.hash;
      e.length = grown.length;
    }
    return true;
  }
}
