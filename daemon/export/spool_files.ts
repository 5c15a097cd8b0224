/**
 * A bundle's small Parquet files written on two threads at once: this one and a Worker
 * (`spool_file_worker.ts`), each taking the next file from one shared counter, building its
 * columns from the spool and encoding it. A bundle is mostly files under one row group (a
 * partition a source and day), which this thread built and encoded one after the other while
 * the second core idled. The Worker runs the same code on the same spooled lines, so each file's
 * bytes are those this thread would write. The counter is shared memory, not messages: this
 * thread turns its event loop rarely while it builds, and the Worker never waits for it to be
 * handed its next file; the files it wrote wait here, a buffer each, until taken.
 *
 * @example
 * using helper = new SpoolFileWorker(jobs);
 * for (let i = helper.claim(); i < jobs.length; i = helper.claim()) write(i);
 * for (;;) { for (const f of helper.take()) keep(f); if (await helper.finished()) break; }
 */

import { parquetWasmModule } from "./parquet_wasm.ts";
import type { SpoolFileJob, SpoolFileReply, SpoolFileStart } from "./spool_file_worker.ts";

/** Starts the Worker that writes whole files from the spool. */
export function spawnSpoolFileWorker(): Worker {
  return new Worker(new URL("./spool_file_worker.ts", import.meta.url).href, { type: "module" });
}

/** A file the Worker wrote: its index in the jobs, and its bytes. */
export interface WrittenFile {
  index: number;
  bytes: Uint8Array<ArrayBuffer>;
}

/** One Worker sharing a list of files with this thread; dispose of it to end it. */
export class SpoolFileWorker {
  readonly #worker: Worker;
  readonly #claims = new Int32Array(new SharedArrayBuffer(4));
  readonly #jobs: number;
  #written: WrittenFile[] = [];
  #done = false;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;

  /** Starts the Worker on `jobs`, which it takes from the front as this thread does. */
  constructor(jobs: SpoolFileJob[], spawn: () => Worker = spawnSpoolFileWorker) {
    this.#jobs = jobs.length;
    const w = this.#worker = spawn();
    w.onmessage = (e: MessageEvent<SpoolFileReply>): void => {
      const m = e.data;
      if (m.op === "file") this.#written.push({ index: m.index, bytes: m.bytes });
      else if (m.op === "done") this.#done = true;
      else this.#fail(`file ${m.index}: ${m.message}`);
      this.#wake?.();
    };
    w.onerror = (e: ErrorEvent): void => {
      e.preventDefault();
      this.#fail(e.message);
    };
    w.onmessageerror = (): void => this.#fail("a message could not be read");
    // The compiled encoder is this thread's, handed over rather than compiled again.
    parquetWasmModule().then(
      (wasm) => {
        const start: SpoolFileStart = { wasm, jobs, claims: this.#claims };
        if (!this.#failure) w.postMessage(start);
      },
      (e) => this.#fail(`no encoder: ${(e as Error)?.message ?? e}`),
    );
  }

  /** The index of the next file for this thread to write; past the last when none is left. */
  claim(): number {
    if (this.#failure) throw this.#failure;
    return Atomics.add(this.#claims, 0, 1);
  }

  /** The files the Worker wrote since the last call. Throws once the Worker failed. */
  take(): WrittenFile[] {
    if (this.#failure) throw this.#failure;
    const out = this.#written;
    this.#written = [];
    return out;
  }

  /**
   * Waits for the Worker's next file or its end: true once it has ended and every file it wrote
   * was taken. Throws once the Worker failed.
   */
  async finished(): Promise<boolean> {
    if (this.#written.length === 0 && !this.#done && !this.#failure) {
      await new Promise<void>((r) => this.#wake = r);
      this.#wake = undefined;
    }
    if (this.#failure) throw this.#failure;
    return this.#done && this.#written.length === 0;
  }

  #fail(why: string): void {
    this.#failure ??= new Error(`Cannot write Parquet: the file Worker failed: ${why}`);
    // The Worker takes no further file; nor does this thread.
    Atomics.store(this.#claims, 0, this.#jobs);
    this.#worker.terminate();
    this.#wake?.();
  }

  /** Ends the Worker (at once, whatever it is doing). */
  [Symbol.dispose](): void {
    this.#worker.onmessage = this.#worker.onerror = this.#worker.onmessageerror = null;
    this.#worker.terminate();
  }
}
