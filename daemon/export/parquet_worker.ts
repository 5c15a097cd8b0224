/**
 * The Parquet encoder on a Worker: takes batches as Arrow IPC streams from its host
 * (`parquet_pipe.ts`), one file at a time (a `start` after `done` begins the next), and sends
 * back each file's bytes as parquet-wasm writes them. It reads a row group into Wasm only when the encoder asks for it, and then hands
 * the IPC buffer back for the host to reuse, so at most the host's few buffers are ever queued
 * here. Any failure is reported as an `error` message; the host then ends the Worker.
 */

import type { RecordBatch as WasmRecordBatch } from "parquet-wasm/esm";
import type { ParquetFileMeta } from "./parquet_meta.ts";
import { writerProperties } from "./parquet_props.ts";
import { parquetWasmFrom, wasmRecordBatch } from "./parquet_wasm.ts";

/** Host to Worker, in this order: `start`, any number of `batch`, `end`. */
export type PipeRequest =
  | { op: "start"; wasm: WebAssembly.Module; meta: ParquetFileMeta | undefined }
  | { op: "batch"; ipc: Uint8Array<ArrayBuffer> }
  | { op: "end" };

/** Worker to host: buffers to reuse, the file's bytes in order, then `done` or `error`. */
export type PipeReply =
  | { op: "free"; ipc: Uint8Array<ArrayBuffer> }
  | { op: "chunk"; bytes: Uint8Array<ArrayBuffer> }
  | { op: "done" }
  | { op: "error"; message: string };

const queued: Uint8Array<ArrayBuffer>[] = [];
let ended = false;
let wake: (() => void) | undefined;

declare const self: {
  onmessage: ((e: MessageEvent<PipeRequest>) => void) | null;
  postMessage(msg: PipeReply, transfer: Transferable[]): void;
};

function reply(msg: PipeReply, transfer: Transferable[] = []): void {
  self.postMessage(msg, transfer);
}

self.onmessage = (e: MessageEvent<PipeRequest>): void => {
  const m = e.data;
  if (m.op === "start") {
    // A Worker encodes file after file for its host: each `start` begins a new one.
    queued.length = 0;
    ended = false;
    encode(m.wasm, m.meta).catch((err) => reply({ op: "error", message: errorText(err) }));
    return;
  }
  if (m.op === "batch") queued.push(m.ipc);
  else ended = true;
  wake?.();
};

async function encode(wasm: WebAssembly.Module, meta: ParquetFileMeta | undefined): Promise<void> {
  const pq = await parquetWasmFrom(wasm);
  const input = new ReadableStream<WasmRecordBatch>({
    async pull(controller): Promise<void> {
      while (queued.length === 0 && !ended) await new Promise<void>((r) => wake = r);
      const ipc = queued.shift();
      if (!ipc) return controller.close();
      const batch = wasmRecordBatch(pq, ipc);
      reply({ op: "free", ipc }, [ipc.buffer]);
      controller.enqueue(batch);
    },
  }, { highWaterMark: 0 });
  const output = await pq.transformParquetStream(
    input,
    writerProperties(pq, meta),
  ) as ReadableStream<Uint8Array<ArrayBuffer>>;
  for await (const chunk of output) {
    // A chunk that owns its buffer moves to the host without a copy.
    const own = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
    const bytes = own ? chunk : chunk.slice();
    reply({ op: "chunk", bytes }, [bytes.buffer]);
  }
  reply({ op: "done" });
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
