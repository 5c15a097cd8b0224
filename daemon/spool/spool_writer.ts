/**
 * Writes a spool's records and acknowledges each once it is on disk. The records asked for in
 * one turn of the event loop go in one write, straight into the page cache (a thread hop for it
 * would cost more than the copy), and each write starts a sync of its own without waiting for
 * the one before — up to {@link MAX_SYNCS} at once. A record is acknowledged when a sync that
 * started after its write returns: such a sync covers every record written before it, so records
 * are acknowledged in file order, whichever sync returns first. Waiting for the sync in flight
 * before starting the next, as a single writer does, made an append wait 1.5-2 syncs; syncs of
 * one file run side by side on the development disk (four threads: ~5,000 a second at 0.2 ms).
 *
 * A failed write or sync breaks the writer: every record it had not acknowledged is refused
 * with the error, and so is every later one; a sync that succeeds after a failed one proves
 * nothing (the kernel reports a lost write once) and acknowledges nothing. Past `fileBytes` the
 * next file is started (`spool_dir.ts`) once the syncs of the last one are done.
 */

import type { NewEvent } from "../event/model.ts";
import { writeAllSync } from "../store/segment_writer.ts";
import { type SpoolFile, startFile } from "./spool_dir.ts";
import { type PlacedRecord, putRecord, RECORD_HEADER } from "./spool_file.ts";

/** Syncs in flight at most. */
export const MAX_SYNCS = 4;

interface Asked {
  json: Uint8Array;
  events: NewEvent[];
  resolve(): void;
  reject(error: Error): void;
}

interface Unsynced {
  asked: Asked;
  record: PlacedRecord;
  seq: number;
}

/** The writing side of one spool. */
export class SpoolWriter {
  readonly #dir: string;
  readonly #fileBytes: number;
  readonly #onFile: (file: SpoolFile) => Promise<void>;
  readonly #onSynced: (records: PlacedRecord[]) => void;
  readonly #onError: () => void;
  #handle: Deno.FsFile;
  #file: SpoolFile;
  #queue: Asked[] = [];
  #unsynced: Unsynced[] = [];
  #written = 0;
  #syncs = new Set<Promise<void>>();
  #scheduled = false;
  #rotating: Promise<void> | undefined;
  #stopping = false;
  #error: Error | undefined;
  #idle: (() => void)[] = [];

  /**
   * Writes into `file` (open as `handle`, placed after its header); `onFile` hears of each
   * file started after it, `onSynced` of the records acknowledged, in order, and `onError`
   * of the failure that broke it.
   */
  constructor(opts: {
    dir: string;
    fileBytes: number;
    handle: Deno.FsFile;
    file: SpoolFile;
    onFile: (file: SpoolFile) => Promise<void>;
    onSynced: (records: PlacedRecord[]) => void;
    onError: () => void;
  }) {
    this.#dir = opts.dir;
    this.#fileBytes = opts.fileBytes;
    this.#handle = opts.handle;
    this.#file = opts.file;
    this.#onFile = opts.onFile;
    this.#onSynced = opts.onSynced;
    this.#onError = opts.onError;
  }

  /** What broke the writer, if something did. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Nothing asked for is still unwritten or unsynced. */
  get quiet(): boolean {
    return this.#queue.length === 0 && this.#syncs.size === 0 && this.#rotating === undefined;
  }

  /** Writes the record of `json` (the events' JSON); resolves once it is synced. */
  write(json: Uint8Array, events: NewEvent[]): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#queue.push({ json, events, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#flush();
      });
    });
  }

  /** Stops starting files; resolves once everything asked for is synced or refused. */
  async stop(): Promise<void> {
    this.#stopping = true;
    while (!this.quiet) await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** Closes the file (after {@link stop}). */
  close(): void {
    try {
      this.#handle.close();
    } catch { /* closed */ }
  }

  #flush(): void {
    if (this.#error !== undefined) return this.#fail(this.#error);
    if (this.#queue.length === 0 || this.#rotating !== undefined) return this.#settled();
    if (this.#syncs.size >= MAX_SYNCS) return;
    const group = this.#queue.splice(0);
    const file = this.#file;
    const start = file.end;
    let size = 0;
    for (const a of group) size += RECORD_HEADER + a.json.length;
    const buf = new Uint8Array(size);
    let at = 0;
    for (const asked of group) {
      at = putRecord(buf, at, asked.json, file.gen);
      const record = {
        events: asked.events,
        pos: { gen: file.gen, offset: start + at },
        bytes: RECORD_HEADER + asked.json.length,
      };
      this.#unsynced.push({ asked, record, seq: ++this.#written });
    }
    try {
      writeAllSync(this.#handle, buf);
    } catch (error) {
      return this.#fail(error, `write ${size} bytes to spool file ${file.path} at ${start}`);
    }
    file.end = start + size;
    const upTo = this.#written;
    const sync: Promise<void> = this.#handle.syncData().then(
      () => this.#synced(upTo),
      (error) => this.#fail(error, `sync spool file ${file.path}`),
    ).finally(() => {
      this.#syncs.delete(sync);
      this.#flush();
    });
    this.#syncs.add(sync);
    if (file.end >= this.#fileBytes && !this.#stopping) this.#rotate();
  }

  #synced(upTo: number): void {
    if (this.#error !== undefined) return;
    const done: PlacedRecord[] = [];
    while (this.#unsynced.length > 0 && this.#unsynced[0]!.seq <= upTo) {
      const u = this.#unsynced.shift()!;
      done.push(u.record);
      u.asked.resolve();
    }
    if (done.length > 0) this.#onSynced(done);
  }

  #rotate(): void {
    const before = this.#file;
    this.#rotating = (async () => {
      try {
        // The last file's syncs first: its handle closes once they are done.
        await Promise.all([...this.#syncs]);
        const next = await startFile(
          this.#dir,
          before.gen + 1,
          { gen: before.gen, offset: before.end },
          this.#fileBytes,
        );
        this.#handle.close();
        this.#handle = next.handle;
        this.#file = next.file;
        await this.#onFile(next.file);
      } catch (error) {
        this.#fail(error, `start a new spool file in ${this.#dir}`);
      } finally {
        this.#rotating = undefined;
        this.#flush();
      }
    })();
  }

  #fail(error: unknown, doing?: string): void {
    const first = this.#error === undefined;
    this.#error ??= doing === undefined ? error as Error : new Error(
      `Cannot ${doing}: ${(error as Error).message}`,
      { cause: error },
    );
    if (first) this.#onError();
    const refused = this.#unsynced.splice(0).map((u) => u.asked).concat(this.#queue.splice(0));
    for (const a of refused) a.reject(this.#error);
    this.#settled();
  }

  #settled(): void {
    if (!this.quiet) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
