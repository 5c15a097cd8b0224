/**
 * Writing one Parquet file on two threads: this thread builds each row group's Arrow columns
 * from the event objects and writes them as an Arrow IPC stream, while a Worker
 * (`parquet_worker.ts`) encodes the row group before it. Building and encoding took about the
 * same time, so the pipeline roughly halves a large file's time on two cores. The bytes are those
 * of the single-thread writer: the same IPC streams reach the same encoder with the same
 * properties.
 *
 * Memory stays bounded: row groups are built only while the output has room, and their IPC
 * streams go over in `BUFFERS` buffers that the Worker hands back once it has read them, so at
 * most that many row groups wait for the encoder. A failing Worker, or a failing input, errors
 * the output stream and ends the Worker; nothing waits on a Worker that is gone.
 */

import { BufferPool, eventsToArrowTable } from "../event/arrow.ts";
import type { AuditEvent } from "../event/model.ts";
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
 * The Parquet file of `groups` (row groups, in order) with the metadata `meta`, encoded on a
 * Worker that `spawn` starts. The stream errors with the input's own error when `groups`
 * throws, and with an Error naming the Worker when the Worker fails.
 */
export function pipedParquetStream(
  groups: AsyncIterable<readonly AuditEvent[]>,
  meta: ParquetFileMeta | undefined,
  spawn: () => Worker = spawnParquetWorker,
): ReadableStream<Uint8Array> {
  let worker: Worker | undefined;
  let settled = false;
  let wake: (() => void) | undefined;
  const free: Uint8Array<ArrayBuffer>[] = [];
  let buffers = 0;

  function stop(): void {
    settled = true;
    worker?.terminate();
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
      const w = worker = spawn();
      w.onmessage = (e: MessageEvent<PipeReply>): void => {
        if (settled) return;
        const m = e.data;
        if (m.op === "free") {
          free.push(m.ipc);
          wake?.();
        } else if (m.op === "chunk") controller.enqueue(m.bytes);
        else if (m.op === "error") workerFailed(m.message);
        else {
          stop();
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
        // Each table is copied into an IPC buffer before the next is built in the same memory.
        const pool = new BufferPool();
        for await (const group of groups) {
          await waitFor(() => (controller.desiredSize ?? 0) > 0);
          await waitFor(() => free.length > 0 || buffers < BUFFERS);
          if (settled) return;
          const table = eventsToArrowTable(group, pool);
          const into = free.pop();
          if (!into) buffers++;
          const ipc = await ipcStreamInto(table, into);
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
