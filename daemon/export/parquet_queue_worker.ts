/**
 * The Parquet encoder of a whole bundle on a Worker (`parquet_queue.ts` is its host): the host
 * builds each file's batches and sends them as Arrow IPC streams, file after file, without
 * waiting for a file to be encoded before it builds the next; this encodes the files in the
 * order they were begun, writes each to its path, hashes it, and says so. Each IPC buffer goes
 * back to the host once read into Wasm, so at most the host's few buffers wait here. It loads
 * no Arrow: the IPC bytes go straight to the encoder. A failure is reported for the file it
 * happened in; the host then ends the Worker.
 */

import { createHash } from "node:crypto";
import type { RecordBatch as WasmRecordBatch } from "parquet-wasm/esm";
import type { ParquetFileMeta } from "./parquet_meta.ts";
import { writerProperties } from "./parquet_props.ts";
import { type ParquetWasm, parquetWasmFrom, wasmRecordBatch } from "./parquet_wasm.ts";

/** Host to Worker: `init` once; then per file `begin`, its `batch`es and `end`, in order. */
export type QueueRequest =
  | { op: "init"; wasm: WebAssembly.Module }
  | { op: "begin"; file: number; path: string; meta: ParquetFileMeta }
  | { op: "batch"; file: number; ipc: Uint8Array<ArrayBuffer> }
  | { op: "end"; file: number };

/** Worker to host: buffers to reuse; each file written (not synced), or why one failed. */
export type QueueReply =
  | { op: "free"; ipc: Uint8Array<ArrayBuffer> }
  | { op: "written"; file: number; sha256: string; bytes: number }
  | { op: "error"; file: number; message: string };

declare const self: {
  onmessage: ((e: MessageEvent<QueueRequest>) => void) | null;
  postMessage(msg: QueueReply, transfer: Transferable[]): void;
};

/** A file begun by the host: its batches as they arrive. */
interface Pending {
  file: number;
  path: string;
  meta: ParquetFileMeta;
  batches: Uint8Array<ArrayBuffer>[];
  ended: boolean;
}

let pq: Promise<ParquetWasm> | undefined;
const files: Pending[] = [];
let running = false;
let wake: (() => void) | undefined;

function reply(msg: QueueReply, transfer: Transferable[] = []): void {
  self.postMessage(msg, transfer);
}

self.onmessage = (e: MessageEvent<QueueRequest>): void => {
  const m = e.data;
  if (m.op === "init") {
    pq = parquetWasmFrom(m.wasm);
    pq.catch(() => {}); // reported with the first file
    return;
  }
  if (m.op === "begin") {
    files.push({ file: m.file, path: m.path, meta: m.meta, batches: [], ended: false });
    if (!running) run();
    return;
  }
  // Batches and ends are for the newest file begun: the host sends a file whole before the next.
  const f = files.at(-1);
  if (!f || f.file !== m.file) return;
  if (m.op === "batch") f.batches.push(m.ipc);
  else f.ended = true;
  wake?.();
};

/** Encodes the files begun, one after the other, until none waits. */
async function run(): Promise<void> {
  running = true;
  while (files.length > 0) {
    const f = files[0]!;
    try {
      const written = await encode(await pq!, f);
      reply({ op: "written", file: f.file, ...written });
    } catch (err) {
      reply({ op: "error", file: f.file, message: errorText(err) });
      return; // the host ends the Worker
    }
    files.shift();
  }
  running = false;
}

/** Encodes one file's batches as they arrive, writing and hashing its bytes. */
async function encode(pq: ParquetWasm, f: Pending): Promise<{ sha256: string; bytes: number }> {
  const input = new ReadableStream<WasmRecordBatch>({
    async pull(controller): Promise<void> {
      while (f.batches.length === 0 && !f.ended) await new Promise<void>((r) => wake = r);
      const ipc = f.batches.shift();
      if (!ipc) return controller.close();
      const batch = wasmRecordBatch(pq, ipc);
      reply({ op: "free", ipc }, [ipc.buffer]);
      controller.enqueue(batch);
    },
  }, { highWaterMark: 0 });
  const output = await pq.transformParquetStream(input, writerProperties(pq, f.meta));
  const sha = createHash("sha256");
  let bytes = 0;
  using file = Deno.openSync(f.path, { write: true, createNew: true });
  for await (const chunk of output as ReadableStream<Uint8Array>) {
    sha.update(chunk);
    bytes += chunk.length;
    for (let at = 0; at < chunk.length;) at += file.writeSync(chunk.subarray(at));
  }
  return { sha256: sha.digest("hex"), bytes };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
