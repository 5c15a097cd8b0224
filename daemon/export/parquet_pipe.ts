/**
 * Writing one Parquet file on two threads: this thread builds each batch's Arrow columns from
 * the event objects and writes them as an Arrow IPC stream, while a Worker
 * (`parquet_worker.ts`) encodes the batch before it. Building and encoding took about the
 * same time, so the pipeline roughly halves a large file's time on two cores. The bytes are those
 * of the single-thread writer: the same IPC streams reach the same encoder with the same
 * properties.
 *
 * Memory stays bounded: batches are built only while the output has room, and their IPC
 * streams go over in `BUFFERS` buffers that the Worker hands back once it has read them, so at
 * most that many batches wait for the encoder. A failing Worker, or a failing input, errors
 * the output stream and ends the Worker; nothing waits on a Worker that is gone. A Worker that
 * finished a file goes back to its `EncoderWorkers`, to encode the next file of the same export:
 * a new Worker per file cost a Deno isolate and a Wasm heap each time, and the memory of the one
 * before was still held when the next one grew its own (~40 MiB more at the export's peak).
 */

import type { Table } from "apache-arrow";
import { eventIpcInto } from "./ipc_batch.ts";
import { ipcStreamInto } from "./parquet_ipc.ts";
import type { ParquetFileMeta } from "./parquet_meta.ts";
import { parquetWasmModule } from "./parquet_wasm.ts";
import type { PipeReply, PipeRequest } from "./parquet_worker.ts";

/** IPC buffers in flight: one row group being read by the Worker, one being written here. */
const BUFFERS = 2;
/** Output chunks queued for the reader before no further row group is built. */
const OUTPUT_CHUNKS = 8;

/** Starts the encoder Worker. */
export function spawnParquetWorker(): Worker {
  return new Worker(new URL("./parquet_worker.ts", import.meta.url).href, { type: "module" });
}

/**
 * The encoder Worker of a run of files, kept between them; `close()` ends it. A Worker that
 * failed is never handed out again.
 *
 * @example
 * const workers = new EncoderWorkers();
 * try { for (const f of files) await write(f, { workers }); } finally { workers.close(); }
 */
export class EncoderWorkers {
  readonly #spawn: () => Worker;
  #idle: Worker | undefined;

  constructor(spawn: () => Worker = spawnParquetWorker) {
    this.#spawn = spawn;
  }

  /** An idle Worker, or a new one. */
  take(): Worker {
    const w = this.#idle ?? this.#spawn();
    this.#idle = undefined;
    return w;
  }

  /** Takes back a Worker that finished its file cleanly. */
  give(w: Worker): void {
    if (this.#idle) w.terminate();
    else this.#idle = w;
  }

  /** Ends the idle Worker. */
  close(): void {
    this.#idle?.terminate();
    this.#idle = undefined;
  }
}

/**
 * The Parquet file of `tables` (batches, in order; each read before the next is asked for) with
 * the metadata `meta`, encoded on a Worker from `workers` (without, one started for this file
 * alone). The stream errors with the input's own error when `tables` throws, and with an Error naming the Worker when the Worker fails.
 */
export function pipedParquetStream(
  tables: AsyncIterable<Table>,
  meta: ParquetFileMeta | undefined,
  workers?: EncoderWorkers,
): ReadableStream<Uint8Array> {
  const encoders = workers ?? new EncoderWorkers();
  let worker: Worker | undefined;
  let settled = false;
  let wake: (() => void) | undefined;
  const free: Uint8Array<ArrayBuffer>[] = [];
  let buffers = 0;

  /** Ends the file; a Worker that finished it cleanly goes back for the next file. */
  function stop(clean = false): void {
    settled = true;
    if (worker) {
      worker.onmessage = worker.onerror = worker.onmessageerror = null;
      if (clean) encoders.give(worker);
      else worker.terminate();
    }
    if (!workers) encoders.close();
    wake?.();
  }

  function waitFor(ready: () => boolean): Promise<void> | undefined {
    if (settled || ready()) return undefined;
    return new Promise<void>((r) => wake = r).then(() => waitFor(ready));
  }

  return new ReadableStream<Uint8Array>({
    async start(controller): Promise<void> {
      const fail = (e: unknown): void => {
        if (settled) return;
        stop();
        controller.error(e);
      };
      const workerFailed = (why: string): void =>
        fail(new Error(`Cannot write Parquet: the encoder Worker failed: ${why}`));
      const w = worker = encoders.take();
      w.onmessage = (e: MessageEvent<PipeReply>): void => {
        if (settled) return;
        const m = e.data;
        if (m.op === "free") {
          free.push(m.ipc);
          wake?.();
        } else if (m.op === "chunk") controller.enqueue(m.bytes);
        else if (m.op === "error") workerFailed(m.message);
        else {
          stop(true);
          controller.close();
        }
      };
      w.onerror = (e: ErrorEvent): void => {
        e.preventDefault();
        workerFailed(e.message);
      };
      w.onmessageerror = (): void => workerFailed("a message could not be read");
      const send = (msg: PipeRequest, transfer: Transferable[] = []): void => {
        if (!settled) w.postMessage(msg, transfer);
      };
      try {
        send({ op: "start", wasm: await parquetWasmModule(), meta });
      } catch (e) {
        return fail(e);
      }
      const feed = async (): Promise<void> => {
        // Each table is copied into an IPC buffer before the next is asked for.
        for await (const table of tables) {
          await waitFor(() => (controller.desiredSize ?? 0) > 0);
          await waitFor(() => free.length > 0 || buffers < BUFFERS);
          if (settled) return;
          const into = free.pop();
          if (!into) buffers++;
          const ipc = eventIpcInto(table, into) ?? await ipcStreamInto(table, into);
          send({ op: "batch", ipc }, [ipc.buffer]);
        }
        send({ op: "end" });
      };
      // Not awaited: start() must return for the reader to get the first chunk.
      feed().catch(fail);
    },
    pull(): void {
      wake?.();
    },
    cancel(): void {
      stop();
    },
  }, new CountQueuingStrategy({ highWaterMark: OUTPUT_CHUNKS }));
}
