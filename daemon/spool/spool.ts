/**
 * A source's write-ahead spool: events made durable in a file of the source's own (`append`
 * resolves once they are synced to disk: `spool_writer.ts`), then handed to the
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
 *   retired once the store holds all its records (one kept as the ground of the next,
 *   `spool_dir.ts`); a clean `close` leaves nothing owed.
 * - A failure is loud: a write that fails breaks the spool (every later `append` rejects with
 *   it), and a batch the store refuses ends `done` with the store's error (appends go on, so
 *   that what the source records as it stops is kept too); what was durable stays in the
 *   files for the next run. Damage found in an older file is logged and stored as
 *   an event (the source's `damagedCommand`) naming the file, offset and bytes lost.
 */

import type { NewEvent } from "../event/model.ts";
import { compileRedaction, redactEvent, type RedactOptions } from "../event/redact.ts";
import { log } from "../log.ts";
import type { SourceBatch } from "../source.ts";
import { recoverSpool, retireFile, type SpoolFile, startFile } from "./spool_dir.ts";
import {
  after,
  encodeEvents,
  formatPosition,
  parsePosition,
  type PlacedRecord,
  RECORD_HEADER,
  type SpoolPosition,
} from "./spool_file.ts";
import { SpoolWriter } from "./spool_writer.ts";

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

/** A record the store does not hold yet; an event the spool made itself has no place. */
type Pending = Omit<PlacedRecord, "pos"> & { pos: SpoolPosition | undefined };

type Settings = Required<Omit<SpoolOptions, "redaction" | "gauge" | "position">> & SpoolOptions;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An open spool; see the module's promises. */
export class EventSpool {
  readonly #o: Settings;
  readonly #rules;
  readonly #files: SpoolFile[];
  readonly #writer: SpoolWriter;
  #stored: SpoolPosition | undefined;
  #pending: Pending[];
  #unstored: number;
  #closing = false;
  #wake: (() => void) | undefined;
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
    this.#writer = new SpoolWriter({
      dir: o.dir,
      fileBytes: o.fileBytes,
      handle,
      file: files[files.length - 1]!,
      onFile: (file) => {
        this.#files.push(file);
        return this.#dropStored();
      },
      onSynced: (records) => {
        this.#pending.push(...records);
        this.#o.gauge?.("spool_bytes", this.#unstored);
        this.#wake?.();
      },
      onError: () => this.#wake?.(),
    });
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
    const stored = parsePosition(o.position);
    const found = await recoverSpool(o.dir, o.name, stored);
    const pending: Pending[] = [...found.owed];
    for (const d of found.damage) {
      const error = `spool file ${o.dir}/${d.file}: ${d.why}; ${d.lost} bytes after offset ` +
        `${d.offset} could not be read, and the events they held are lost`;
      log("error", "spool: damaged file", { source: o.name, error });
      pending.unshift({
        events: [damageEvent(o.name, o.damagedCommand, error, d)],
        pos: undefined,
        bytes: 0,
      });
    }
    const gen = Math.max(stored?.gen ?? 0, found.lastGen) + 1;
    const { handle, file } = await startFile(o.dir, gen, { gen: 0, offset: 0 }, o.fileBytes);
    const files = [...found.files, file];
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
    const broken = this.#writer.error;
    if (broken !== undefined) return Promise.reject(broken);
    if (this.#closing) {
      return Promise.reject(new Error(`The spool of ${this.#o.name} is closed`));
    }
    for (const e of events) redactEvent(e, this.#rules);
    const json = encodeEvents(events);
    const bytes = RECORD_HEADER + json.length;
    if (this.#unstored > 0 && this.#unstored + bytes > this.#o.maxBytes) {
      return Promise.reject(
        new SpoolFullError(
          `The spool of ${this.#o.name} holds ${this.#unstored} bytes of events the store ` +
            `has not taken yet (at most ${this.#o.maxBytes}): the store is behind or failing`,
        ),
      );
    }
    this.#unstored += bytes;
    return this.#writer.write(json, events).catch((error) => {
      this.#unstored -= bytes;
      throw error;
    });
  }

  /**
   * Stops taking events, has everything written handed to the store, and retires the files
   * (the spare stays for the next run). Rejects with the failure that ended the spool, if one
   * did; its files then stay.
   */
  async close(): Promise<void> {
    this.#closing = true;
    await this.#writer.stop();
    this.#wake?.();
    try {
      await this.done;
    } finally {
      this.#writer.close();
    }
    for (const f of this.#files.splice(0)) await retireFile(this.#o.dir, f);
  }

  /** Retires the files, but the one being written, whose records the store holds. */
  async #dropStored(): Promise<void> {
    const stored = this.#stored;
    while (this.#files.length > 1) {
      const f = this.#files[0]!;
      if (after({ gen: f.gen, offset: f.end }, stored)) return;
      this.#files.shift();
      await retireFile(this.#o.dir, f);
    }
  }

  async #emitLoop(): Promise<void> {
    let emitted = -Infinity;
    for (;;) {
      if (this.#pending.length === 0) {
        // A broken writer refused all it had not acknowledged, and nothing comes after.
        if (this.#writer.error !== undefined) throw this.#writer.error;
        if (this.#writer.quiet && this.#closing) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      const since = performance.now() - emitted;
      if (since < this.#o.emitIntervalMs && !this.#closing && this.#writer.error === undefined) {
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
      // A refusal ends this loop, not the appends: what the source records as it stops (its
      // sessions closing) is kept for the next run, which hands it over with the rest.
      await this.#o.emit({
        events,
        ...(last !== undefined ? { position: formatPosition(last) } : {}),
      });
      this.#pending.splice(0, take);
      for (const p of batch) this.#unstored -= p.bytes;
      if (last !== undefined) this.#stored = last;
      this.#o.gauge?.("spool_bytes", this.#unstored);
      await this.#dropStored();
    }
  }
}

function damageEvent(
  source: string,
  command: string,
  error: string,
  damage: { file: string; offset: number; lost: number },
): NewEvent {
  return {
    ts: Date.now() * 1000,
    source,
    source_pos: `spool-damage-${damage.file}-${damage.offset}`,
    kind: "system",
    command,
    error,
    context: { file: damage.file, offset: damage.offset, lost: damage.lost },
  };
}
