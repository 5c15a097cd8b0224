/**
 * A Worker that writes whole Parquet files from the export's spool, beside its host
 * (`spool_files.ts`): it is given a list of files — each a partition's runs of bytes in the spool
 * file and the file's metadata — and a shared counter, and takes the next file from the counter
 * until none is left, as the host does, so neither thread waits on the other to be handed work.
 * For each it reads the lines, builds their Arrow columns (`spool_tables.ts`) and encodes them
 * (`parquetTableStream` on its own thread), and sends back the file's bytes as one buffer. It
 * runs the code the host runs for a file, so the bytes are those the host would write. A failure
 * is reported for the file it happened in, and the Worker takes no further file.
 */

import { BATCH_ROWS, parquetTableStream } from "./parquet.ts";
import type { ParquetFileMeta } from "./parquet_meta.ts";
import { parquetWasmFrom } from "./parquet_wasm.ts";
import { spooledTables, SpoolReader } from "./spool_tables.ts";

/** A file to write: a partition's runs of bytes in the spool file, and the file's metadata. */
export interface SpoolFileJob {
  part: { file: string; extents: readonly number[] };
  meta: ParquetFileMeta;
}

/** Host to Worker, once: the encoder, the files, and the counter both threads take them from. */
export interface SpoolFileStart {
  wasm: WebAssembly.Module;
  jobs: SpoolFileJob[];
  /** `claims[0]`: the index of the next file to take (`Atomics.add`). */
  claims: Int32Array<SharedArrayBuffer>;
}

/** Worker to host: each file it took, then `done`; or an error, after which it takes none. */
export type SpoolFileReply =
  | { op: "file"; index: number; bytes: Uint8Array<ArrayBuffer> }
  | { op: "done" }
  | { op: "error"; index: number; message: string };

declare const self: {
  onmessage: ((e: MessageEvent<SpoolFileStart>) => void) | null;
  postMessage(msg: SpoolFileReply, transfer: Transferable[]): void;
};

self.onmessage = (e: MessageEvent<SpoolFileStart>): void => {
  self.onmessage = null;
  const at = { index: -1 };
  writeAll(e.data, at).then(
    () => self.postMessage({ op: "done" }, []),
    (err) => self.postMessage({ op: "error", index: at.index, message: errorText(err) }, []),
  );
};

async function writeAll(start: SpoolFileStart, at: { index: number }): Promise<void> {
  await parquetWasmFrom(start.wasm);
  const reader = new SpoolReader(BATCH_ROWS);
  const { jobs, claims } = start;
  for (let i = Atomics.add(claims, 0, 1); i < jobs.length; i = Atomics.add(claims, 0, 1)) {
    at.index = i;
    const bytes = await writeFile(jobs[i]!, reader);
    self.postMessage({ op: "file", index: i, bytes }, [bytes.buffer]);
  }
}

/** One file's bytes, in one buffer: it moves to the host without a copy. */
async function writeFile(job: SpoolFileJob, reader: SpoolReader): Promise<Uint8Array<ArrayBuffer>> {
  const tables = spooledTables(job.part, { batchRows: BATCH_ROWS, want: job.meta, reader });
  const stream = await parquetTableStream(tables, job.meta, { worker: false });
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    parts.push(chunk);
    size += chunk.length;
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return bytes;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
