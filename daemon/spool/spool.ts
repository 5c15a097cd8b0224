/**
 * A source's write-ahead spool: events made durable in a file of the source's own (`append`
 * resolves once they are synced to disk, several callers sharing one sync), then handed to the
 * store in batches, in order, each with the position of its last record, so that what the
 * store holds and what the spool still owes it are told apart across any stop or crash. A
 * source whose callers must not go on before their events are durable (the proxy's enforce
 * mode) waits for a sync of its own thread's file instead of a round trip through the daemon's
 * store; the store takes the same events a few milliseconds later.
 *
 * Promises:
 * - A resolved `append` survives a kill -9: the next `open` of the directory hands every record
 *   after the store's position to the store, once; records up to it are never handed again.
 * - Nothing unredacted reaches the disk: events are redacted (the source's rules, as the
 *   pipeline would) before they are written.
 * - Bounded: at most `maxBytes` of records wait for the store; past that `append` rejects with
 *   {@link SpoolFullError} rather than hold more (the caller refuses its client). A file is
 *   deleted once the store holds all its records; a clean `close` leaves the directory empty.
 * - A failure is loud: a write that fails breaks the spool (every later `append` rejects with
 *   it), and a batch the store refuses ends `done` with the store's error; what was durable
 *   stays in the files for the next run. Damage found in an older file is logged and stored as
 *   an event (the source's `damagedCommand`) naming the file, offset and bytes lost.
 */

import type { NewEvent } from "../event/model.ts";
import { compileRedaction, redactEvent, type RedactOptions } from "../event/redact.ts";
import { log } from "../log.ts";
import type { SourceBatch } from "../source.ts";
import { syncDir } from "../store/segment_writer.ts";
import {
  after,
  encodeRecord,
  formatPosition,
  parsePosition,
  parseSpoolName,
  scanSpool,
  SPOOL_MAGIC,
  spoolName,
  type SpoolPosition,
} from "./spool_file.ts";

/** Refused: the store has not taken what the spool holds, and it may hold no more. */
export class SpoolFullError extends Error {
  override name = "SpoolFullError";
}

/** How a spool is opened. */
export interface SpoolOptions {
  /** The spool's own directory (created if missing). */
  dir: string;
  /** The source's name, for messages and events. */
  name: string;
  /**
   * The command of the event that reports records of a damaged file as lost: one of the
   * source type's gap commands (its family, which an ingest token may not post).
   */
  damagedCommand: string;
  /** The store's position for the source: records up to it are stored already. */
  position: string | undefined;
  /** Stores a batch; resolves once it is durable in the store. */
  emit(batch: SourceBatch): Promise<void>;
  /** The source's redaction (absent: the built-in rules). */
  redaction?: RedactOptions;
  /** Bytes of records waiting for the store at most (default 32 MiB). */
  maxBytes?: number;
  /** A file's size past which the next record starts a new file (default 16 MiB). */
  fileBytes?: number;
  /** Least time between two batches to the store while records keep coming (default 20 ms). */
  emitIntervalMs?: number;
  /** Events a batch to the store at most (default 2000). */
  batchEvents?: number;
  /** Reports `spool_bytes`, the bytes waiting for the store. */
  gauge?(name: string, value: number): void;
}

interface Pending {
  events: NewEvent[];
  pos: SpoolPosition | undefined;
  bytes: number;
}

interface Waiting {
  bytes: Uint8Array;
  events: NewEvent[];
  resolve(): void;
  reject(error: Error): void;
}

interface SpoolFile {
  gen: number;
  path: string;
  /** The end of its last whole record. */
  end: number;
}

type Settings = Required<Omit<SpoolOptions, "redaction" | "gauge" | "position">> & SpoolOptions;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An open spool; see the module's promises. */
export class EventSpool {
  readonly #o: Settings;
  readonly #rules;
  readonly #files: SpoolFile[];
  #handle: Deno.FsFile;
  #current: SpoolFile;
  #stored: SpoolPosition | undefined;
  #pending: Pending[];
  #unstored: number;
  #queue: Waiting[] = [];
  #writing = false;
  #closing = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #idle: (() => void) | undefined;
  /** The store's side: ends once `close` has had everything stored, or with the first failure. */
  readonly done: Promise<void>;

  private constructor(
    o: Settings,
    files: SpoolFile[],
    handle: Deno.FsFile,
    pending: Pending[],
    stored: SpoolPosition | undefined,
  ) {
    this.#o = o;
    this.#rules = compileRedaction(o.redaction ?? {});
    this.#files = files;
    this.#handle = handle;
    this.#current = files[files.length - 1]!;
    this.#pending = pending;
    this.#stored = stored;
    this.#unstored = pending.reduce((n, p) => n + p.bytes, 0);
    this.done = this.#emitLoop();
    // `done` is awaited by `close`; a failure before that is the caller's to see there.
    this.done.catch(() => {});
  }

  /**
   * Opens the spool in `opts.dir`: the records of earlier runs that the store does not hold
   * yet are queued for it, and a new file is started for this run's.
   */
  static async open(opts: SpoolOptions): Promise<EventSpool> {
    const o: Settings = {
      maxBytes: 32 * 1024 * 1024,
      fileBytes: 16 * 1024 * 1024,
      emitIntervalMs: 20,
      batchEvents: 2000,
      ...opts,
    };
    await Deno.mkdir(o.dir, { recursive: true });
    const stored = parsePosition(o.position);
    const gens: number[] = [];
    for await (const e of Deno.readDir(o.dir)) {
      const gen = e.isFile ? parseSpoolName(e.name) : null;
      if (gen !== null) gens.push(gen);
    }
    gens.sort((a, b) => a - b);
    const files: SpoolFile[] = [];
    const pending: Pending[] = [];
    for (const [i, gen] of gens.entries()) {
      const path = `${o.dir}/${spoolName(gen)}`;
      const bytes = await Deno.readFile(path);
      let scan;
      try {
        scan = scanSpool(bytes, path);
      } catch (error) {
        scan = { records: [], end: 0, stop: (error as Error).message };
      }
      for (const r of scan.records) {
        const pos = { gen, offset: r.end };
        if (after(pos, stored)) pending.push({ events: r.events, pos, bytes: r.bytes });
      }
      if (scan.stop !== undefined) {
        const lost = bytes.length - scan.end;
        // The newest file of a run that was stopped mid-write ends in a record never synced,
        // so never acknowledged: nothing was promised for it. Anywhere else it is damage.
        if (i === gens.length - 1) {
          log("info", "spool: a record cut by a stop was never acknowledged; left out", {
            source: o.name,
            file: path,
            offset: scan.end,
            bytes: lost,
          });
        } else {
          const error = `spool file ${path}: ${scan.stop}; ${lost} bytes after offset ` +
            `${scan.end} could not be read, and events they held may be lost`;
          log("error", "spool: damaged file", { source: o.name, error });
          pending.unshift({
            events: [
              damageEvent(o.name, o.damagedCommand, error, {
                file: spoolName(gen),
                offset: scan.end,
                lost,
              }),
            ],
            pos: undefined,
            bytes: 0,
          });
        }
      }
      const last = scan.records[scan.records.length - 1];
      if (last === undefined || !after({ gen, offset: last.end }, stored)) {
        await Deno.remove(path);
      } else files.push({ gen, path, end: scan.end });
    }
    const gen = Math.max(stored?.gen ?? 0, gens[gens.length - 1] ?? 0) + 1;
    const handle = await startFile(o.dir, gen);
    files.push({ gen, path: `${o.dir}/${spoolName(gen)}`, end: SPOOL_MAGIC.length });
    return new EventSpool(o, files, handle, pending, stored);
  }

  /** Bytes of records the store does not hold yet. */
  get unstoredBytes(): number {
    return this.#unstored;
  }

  /**
   * Redacts `events`, writes them and resolves once they are synced to disk. Rejects with
   * {@link SpoolFullError} when the store is too far behind, or with the write's error.
   */
  append(events: NewEvent[]): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#closing) {
      return Promise.reject(new Error(`The spool of ${this.#o.name} is closed`));
    }
    for (const e of events) redactEvent(e, this.#rules);
    const bytes = encodeRecord(events);
    if (this.#unstored > 0 && this.#unstored + bytes.length > this.#o.maxBytes) {
      return Promise.reject(
        new SpoolFullError(
          `The spool of ${this.#o.name} holds ${this.#unstored} bytes of events the store ` +
            `has not taken yet (at most ${this.#o.maxBytes}): the store is behind or failing`,
        ),
      );
    }
    this.#unstored += bytes.length;
    return new Promise((resolve, reject) => {
      this.#queue.push({ bytes, events, resolve, reject });
      if (!this.#writing) void this.#writeLoop();
    });
  }

  /**
   * Stops taking events, has everything written handed to the store, and deletes the files.
   * Rejects with the failure that ended the spool, if one did; its files then stay.
   */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#writing) await new Promise<void>((resolve) => (this.#idle = resolve));
    this.#wake?.();
    try {
      await this.done;
    } finally {
      try {
        this.#handle.close();
      } catch { /* closed */ }
    }
    for (const f of this.#files.splice(0)) await Deno.remove(f.path).catch(() => {});
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0) {
      const group = this.#queue.splice(0);
      const file = this.#current;
      const start = file.end;
      let size = 0;
      for (const w of group) size += w.bytes.length;
      const buf = group.length === 1 ? group[0]!.bytes : new Uint8Array(size);
      if (group.length > 1) {
        let at = 0;
        for (const w of group) {
          buf.set(w.bytes, at);
          at += w.bytes.length;
        }
      }
      try {
        if (this.#error !== undefined) throw this.#error;
        let done = 0;
        while (done < buf.length) done += await this.#handle.write(buf.subarray(done));
        await this.#handle.syncData();
      } catch (error) {
        const failure: Error = error === this.#error ? error as Error : new Error(
          `Cannot write ${size} bytes to spool file ${file.path} at offset ${start}: ` +
            (error as Error).message,
          { cause: error },
        );
        this.#error ??= failure;
        for (const w of group.concat(this.#queue.splice(0))) {
          this.#unstored -= w.bytes.length;
          w.reject(failure);
        }
        break;
      }
      let at = start;
      for (const w of group) {
        at += w.bytes.length;
        this.#pending.push({
          events: w.events,
          pos: { gen: file.gen, offset: at },
          bytes: w.bytes.length,
        });
        w.resolve();
      }
      file.end = at;
      this.#o.gauge?.("spool_bytes", this.#unstored);
      this.#wake?.();
      if (file.end >= this.#o.fileBytes && !this.#closing) {
        try {
          await this.#rotate();
        } catch (error) {
          this.#error ??= new Error(
            `Cannot start a new spool file in ${this.#o.dir}: ${(error as Error).message}`,
            { cause: error },
          );
        }
      }
    }
    this.#writing = false;
    this.#idle?.();
    this.#idle = undefined;
    this.#wake?.();
  }

  async #rotate(): Promise<void> {
    const gen = this.#current.gen + 1;
    const handle = await startFile(this.#o.dir, gen);
    this.#handle.close();
    this.#handle = handle;
    this.#current = { gen, path: `${this.#o.dir}/${spoolName(gen)}`, end: SPOOL_MAGIC.length };
    this.#files.push(this.#current);
    await this.#dropStored();
  }

  /** Deletes the files, but the one being written, whose records the store holds. */
  async #dropStored(): Promise<void> {
    const stored = this.#stored;
    while (this.#files.length > 1) {
      const f = this.#files[0]!;
      if (after({ gen: f.gen, offset: f.end }, stored)) return;
      this.#files.shift();
      await Deno.remove(f.path).catch((error) =>
        log("warn", "spool: cannot delete a stored file", {
          source: this.#o.name,
          file: f.path,
          error: String(error),
        })
      );
    }
  }

  async #emitLoop(): Promise<void> {
    let emitted = -Infinity;
    for (;;) {
      if (this.#pending.length === 0) {
        const quiet = !this.#writing && this.#queue.length === 0;
        if (quiet && this.#error !== undefined) throw this.#error;
        if (quiet && this.#closing) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      const since = performance.now() - emitted;
      if (since < this.#o.emitIntervalMs && !this.#closing && this.#error === undefined) {
        let count = 0;
        for (const p of this.#pending) count += p.events.length;
        if (count < this.#o.batchEvents) await sleep(this.#o.emitIntervalMs - since);
      }
      emitted = performance.now();
      let count = 0;
      let take = 0;
      while (
        take < this.#pending.length && (take === 0 || count < this.#o.batchEvents)
      ) count += this.#pending[take++]!.events.length;
      const batch = this.#pending.slice(0, take);
      let last: SpoolPosition | undefined;
      for (const p of batch) last = p.pos ?? last;
      const events = batch.length === 1 ? batch[0]!.events : batch.flatMap((p) => p.events);
      try {
        await this.#o.emit({
          events,
          ...(last !== undefined ? { position: formatPosition(last) } : {}),
        });
      } catch (error) {
        this.#error ??= error as Error;
        throw error;
      }
      this.#pending.splice(0, take);
      for (const p of batch) this.#unstored -= p.bytes;
      if (last !== undefined) this.#stored = last;
      this.#o.gauge?.("spool_bytes", this.#unstored);
      await this.#dropStored();
    }
  }
}

/** Creates generation `gen`'s file with its magic, synced with its directory entry. */
async function startFile(dir: string, gen: number): Promise<Deno.FsFile> {
  const handle = await Deno.open(`${dir}/${spoolName(gen)}`, { createNew: true, write: true });
  try {
    let done = 0;
    while (done < SPOOL_MAGIC.length) done += await handle.write(SPOOL_MAGIC.subarray(done));
    await handle.syncData();
    await syncDir(dir);
  } catch (error) {
    handle.close();
    throw error;
  }
  return handle;
}

function damageEvent(
  source: string,
  command: string,
  error: string,
  context: { file: string; offset: number; lost: number },
): NewEvent {
  return {
    ts: Date.now() * 1000,
    source,
    source_pos: `spool-damage-${context.file}-${context.offset}`,
    kind: "system",
    command,
    error,
    context,
  };
}
