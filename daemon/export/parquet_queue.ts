/**
 * A bundle's Parquet files written on two threads: this thread builds each file's batches and
 * hands them over as Arrow IPC streams, and one Worker (`parquet_queue_worker.ts`) encodes,
 * writes and hashes the files in order, while this thread goes on to build the next file rather
 * than wait for the last to be encoded. A bundle is mostly files under one row group (a partition
 * a source and day), which were built and encoded on this thread one after the other while the
 * second core idled; building and encoding take about as long as each other (~1.3 and ~1 µs an
 * event), so each thread takes about half. The bytes are those of the single-thread writer: the
 * same IPC streams reach the same encoder with the same properties (`parquet_props.ts`). This
 * thread never encodes, so it never grows an encoder's Wasm heap of its own (~20 MiB): the
 * export's peak stays near that of one thread.
 *
 * Memory stays bounded: the IPC streams go over in `BUFFERS` buffers that the Worker hands back
 * once it has read them, so at most that many batches wait for the encoder, whatever the files.
 *
 * @example
 * using queue = new EncoderQueue();
 * const { written } = await queue.send(tables, meta, path); // once the batches are sent
 * const { sha256, bytes } = await written;                  // the file, written, not synced
 */

import type { Table } from "apache-arrow";
import { eventIpcInto } from "./ipc_batch.ts";
import { ipcStreamInto } from "./parquet_ipc.ts";
import type { ParquetFileMeta } from "./parquet_meta.ts";
import { parquetWasmModule } from "./parquet_wasm.ts";
import type { QueueReply, QueueRequest } from "./parquet_queue_worker.ts";

/** IPC buffers in flight: one being read by the Worker, one waiting, one being written here. */
const BUFFERS = 3;

/** Starts the Worker that encodes a bundle's files. */
export function spawnQueueWorker(): Worker {
  return new Worker(new URL("./parquet_queue_worker.ts", import.meta.url).href, {
    type: "module",
  });
}

/** A file the Worker wrote: its SHA-256 (hex) and size. */
export interface QueuedFile {
  sha256: string;
  bytes: number;
}

interface Waiting {
  resolve(f: QueuedFile): void;
  reject(e: Error): void;
}

/** One encoder Worker for the files of one bundle; dispose of it to end it. */
export class EncoderQueue {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, Waiting>();
  readonly #free: Uint8Array<ArrayBuffer>[] = [];
  readonly #init: Promise<void>;
  #buffers = 0;
  #files = 0;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(spawn: () => Worker = spawnQueueWorker) {
    const w = this.#worker = spawn();
    w.onmessage = (e: MessageEvent<QueueReply>): void => {
      const m = e.data;
      if (m.op === "free") {
        this.#free.push(m.ipc);
        this.#wake?.();
      } else if (m.op === "written") {
        const waiting = this.#waiting.get(m.file);
        this.#waiting.delete(m.file);
        waiting?.resolve({ sha256: m.sha256, bytes: m.bytes });
      } else this.#fail(`file ${m.file}: ${m.message}`);
    };
    w.onerror = (e: ErrorEvent): void => {
      e.preventDefault();
      this.#fail(e.message);
    };
    w.onmessageerror = (): void => this.#fail("a message could not be read");
    // The compiled encoder is this thread's, handed over rather than compiled again.
    this.#init = parquetWasmModule().then((wasm) => this.#send({ op: "init", wasm }));
    this.#init.catch(() => {});
  }

  /**
   * Sends the file of `tables` (batches in order, each read before the next is asked for) with
   * `meta`, to be written at `path` (a new file; its directory exists). Resolves once every
   * batch is sent, with the file's own promise (`written`): it resolves once the file is
   * written, and rejects when the Worker fails. A failing `tables` rejects this with its own
   * error; the queue is then of no further use.
   */
  async send(
    tables: AsyncIterable<Table>,
    meta: ParquetFileMeta,
    path: string,
  ): Promise<{ written: Promise<QueuedFile> }> {
    await this.#init;
    this.#check();
    const file = this.#files++;
    const written = new Promise<QueuedFile>((resolve, reject) => {
      this.#waiting.set(file, { resolve, reject });
    });
    written.catch(() => {}); // the caller may not await it once this rejects
    this.#send({ op: "begin", file, path, meta });
    for await (const table of tables) {
      while (this.#free.length === 0 && this.#buffers >= BUFFERS && !this.#failure) {
        await new Promise<void>((r) => this.#wake = r);
      }
      this.#check();
      const into = this.#free.pop();
      if (!into) this.#buffers++;
      const ipc = eventIpcInto(table, into) ?? await ipcStreamInto(table, into);
      this.#send({ op: "batch", file, ipc }, [ipc.buffer]);
    }
    this.#send({ op: "end", file });
    return { written }; // in an object: a promise resolved with a promise would wait for it
  }

  #send(msg: QueueRequest, transfer: Transferable[] = []): void {
    if (!this.#failure) this.#worker.postMessage(msg, transfer);
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
  }

  #fail(why: string): void {
    this.#failure ??= new Error(`Cannot write Parquet: the encoder Worker failed: ${why}`);
    for (const w of this.#waiting.values()) w.reject(this.#failure);
    this.#waiting.clear();
    this.#worker.terminate();
    this.#wake?.();
  }

  /** Ends the Worker, whatever it is doing; files not yet written are rejected. */
  [Symbol.dispose](): void {
    this.#fail("it was ended before the file was written");
  }
}
