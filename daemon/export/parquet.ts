/**
 * Events to Parquet and back, with parquet-wasm. A file has the Arrow schema of the event model
 * (`eventArrowSchema()`), ZSTD pages, row groups of `ROW_GROUP_ROWS` rows, timestamps as
 * TIMESTAMP(MICROS, isAdjustedToUTC), dictionary pages only for the low-cardinality columns,
 * delta-encoded integers and page-level statistics (min/max per page and column chunk, for
 * predicate pushdown). Its key-value metadata says which stretch of the signed log it holds
 * (`parquet_meta.ts`).
 *
 * Writing is deterministic: the same events and metadata give the same bytes. Nothing in the
 * file depends on the clock or on how the caller batched its events: rows are re-cut into whole
 * row groups before they reach the writer, and `created_by` names Vigil's and parquet-wasm's
 * versions rather than a build. Reading gives back events whose canonical JSON equals that of
 * the events written, which is what lets a bundle be checked against the Merkle tree offline.
 *
 * A file that fills a row group is encoded on a Worker while this thread builds the next row
 * group's columns (`parquet_pipe.ts`), a smaller one on this thread: the bytes are the same.
 */

import { tableFromIPC } from "apache-arrow";
import type { RecordBatch as WasmRecordBatch } from "parquet-wasm/esm";
import { arrowTableEvents, BufferPool, eventsToArrowTable } from "../event/arrow.ts";
import type { AuditEvent } from "../event/model.ts";
import { ipcStreamInto } from "./parquet_ipc.ts";
import type { ParquetFileMeta } from "./parquet_meta.ts";
import { pipedParquetStream } from "./parquet_pipe.ts";
import { ROW_GROUP_ROWS, writerProperties } from "./parquet_props.ts";
import { type ParquetWasm, parquetWasm, wasmRecordBatch } from "./parquet_wasm.ts";

export { CREATED_BY, ROW_GROUP_ROWS } from "./parquet_props.ts";

/** Rows per Arrow batch when reading: one row group at a time keeps memory bounded. */
const READ_BATCH_ROWS = ROW_GROUP_ROWS;

/** How a file is written. */
export interface ParquetWriteOptions {
  /**
   * Encode on a Worker while this thread builds the next row group (`parquet_pipe.ts`): `true`,
   * `false`, or `"auto"` (the default), a Worker once the first row group is full. All three
   * give the same bytes.
   */
  worker?: boolean | "auto";
  /** Starts the encoder Worker, for tests that need one that fails. */
  spawnWorker?: () => Worker;
}

/**
 * A Parquet file of events, as a stream of bytes: `batches` are read lazily, one row group at a
 * time (the first already before this resolves), so memory stays bounded whatever the file's
 * size. Batches may have any size. With `meta`, the events must have exactly its row count and
 * first and last seq, else the stream errors with a RangeError before the footer is written.
 */
export async function parquetEventStream(
  batches: AsyncIterable<readonly AuditEvent[]> | Iterable<readonly AuditEvent[]>,
  meta?: ParquetFileMeta,
  opts: ParquetWriteOptions = {},
): Promise<ReadableStream<Uint8Array>> {
  let groups: AsyncIterable<readonly AuditEvent[]> = rowGroups(batches, meta);
  let worker = opts.worker ?? "auto";
  if (worker === "auto") {
    // A file that does not fill one row group gains nothing from a Worker but its start-up.
    const it = groups[Symbol.asyncIterator]();
    const first = await it.next();
    worker = !first.done && first.value.length === ROW_GROUP_ROWS;
    groups = prepend(first, it);
  }
  if (worker) return pipedParquetStream(groups, meta, opts.spawnWorker);
  const pq = await parquetWasm();
  // parquet-wasm ends its output normally when its input errors: remember the input's error
  // and raise it at the end of the output instead, so a bad file is never taken for a good one.
  let failure: unknown;
  const guarded = async function* (): AsyncGenerator<WasmRecordBatch> {
    try {
      yield* wasmBatches(pq, groups);
    } catch (e) {
      failure = e;
      throw e;
    }
  };
  const input = ReadableStream.from(guarded());
  const output = await pq.transformParquetStream(
    input,
    writerProperties(pq, meta),
  ) as ReadableStream<Uint8Array>;
  return output.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      flush() {
        if (failure !== undefined) throw failure;
      },
    }),
  );
}

/** Writes `events` as one Parquet file in memory. See `parquetEventStream`. */
export async function writeEventsParquet(
  events: readonly AuditEvent[],
  meta?: ParquetFileMeta,
  opts: ParquetWriteOptions = {},
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of await parquetEventStream([events], meta, opts)) parts.push(part);
  return concat(parts);
}

/** Every event of a Parquet file of events, in row order. */
export async function readParquetEvents(bytes: Uint8Array): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const batch of readParquetEventBatches(bytes)) {
    for (const ev of batch) out.push(ev);
  }
  return out;
}

/**
 * The events of a Parquet file in row order, a row group at a time. Throws SyntaxError for bytes
 * that are not Parquet, TypeError for a file whose columns are not events.
 */
export async function* readParquetEventBatches(bytes: Uint8Array): AsyncGenerator<AuditEvent[]> {
  const pq = await parquetWasm();
  const file = await openParquet(pq, bytes);
  try {
    const stream = await file.stream({ batchSize: READ_BATCH_ROWS }) as ReadableStream<
      WasmRecordBatch
    >;
    for await (const batch of stream) {
      // Arrow IPC is the one form both libraries share; the copy costs little next to decoding.
      const table = tableFromIPC(batch.intoIPCStream());
      yield Array.from(arrowTableEvents(table));
    }
  } finally {
    file.free();
  }
}

/** What a Parquet file's footer says, without reading its rows. */
export interface ParquetFooter {
  rows: number;
  rowGroups: number[];
  createdBy: string | undefined;
  keyValue: Map<string, string>;
}

/** Reads the footer of a Parquet file; throws SyntaxError for bytes that are not Parquet. */
export async function readParquetFooter(bytes: Uint8Array): Promise<ParquetFooter> {
  const pq = await parquetWasm();
  const file = await openParquet(pq, bytes);
  try {
    const md = file.metadata();
    const fmd = md.fileMetadata();
    const keyValue = new Map<string, string>();
    for (const [k, v] of fmd.keyValueMetadata()) keyValue.set(String(k), String(v));
    return {
      rows: fmd.numRows(),
      rowGroups: md.rowGroups().map((g) => g.numRows()),
      createdBy: fmd.createdBy(),
      keyValue,
    };
  } finally {
    file.free();
  }
}

async function openParquet(pq: ParquetWasm, bytes: Uint8Array) {
  try {
    return await pq.ParquetFile.fromFile(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  } catch (e) {
    throw new SyntaxError(`Cannot read Parquet: ${errorText(e)}`, { cause: e });
  }
}

/** Re-cuts `batches` into whole row groups, checking `meta` on the way. */
async function* rowGroups(
  batches: AsyncIterable<readonly AuditEvent[]> | Iterable<readonly AuditEvent[]>,
  meta: ParquetFileMeta | undefined,
): AsyncGenerator<AuditEvent[]> {
  let pending: AuditEvent[] = [];
  let rows = 0, first: number | undefined, last: number | undefined;
  for await (const batch of batches) {
    for (const ev of batch) {
      first ??= ev.seq;
      last = ev.seq;
      pending.push(ev);
      if (pending.length === ROW_GROUP_ROWS) {
        yield pending;
        rows += pending.length;
        pending = [];
      }
    }
  }
  rows += pending.length;
  if (meta && (rows !== meta.rows || first !== meta.firstSeq || last !== meta.lastSeq)) {
    throw new RangeError(
      `Cannot write Parquet: got ${rows} events (seq ${first} to ${last}) but the metadata ` +
        `says ${meta.rows} (seq ${meta.firstSeq} to ${meta.lastSeq})`,
    );
  }
  // A file of no rows still needs one (empty) batch to carry the schema.
  if (pending.length > 0 || rows === 0) yield pending;
}

/** `first`, already taken from `rest`, then the rest. */
async function* prepend<T>(
  first: IteratorResult<T>,
  rest: AsyncIterator<T>,
): AsyncGenerator<T> {
  try {
    if (first.done) return;
    yield first.value;
    for (let r = await rest.next(); !r.done; r = await rest.next()) yield r.value;
  } finally {
    await rest.return?.();
  }
}

/**
 * Row groups as Wasm record batches, built in reused buffers: the columns' (`BufferPool`) and
 * the IPC stream's (`parquet_ipc.ts`).
 */
async function* wasmBatches(
  pq: ParquetWasm,
  groups: AsyncIterable<readonly AuditEvent[]>,
): AsyncGenerator<WasmRecordBatch> {
  let ipc: Uint8Array<ArrayBuffer> | undefined;
  const pool = new BufferPool();
  for await (const group of groups) {
    ipc = await ipcStreamInto(eventsToArrowTable(group, pool), ipc);
    yield wasmRecordBatch(pq, ipc);
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
