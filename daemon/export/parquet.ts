/**
 * Events to Parquet and back, with parquet-wasm. A file has the Arrow schema of the event model
 * (`eventArrowSchema()`), ZSTD pages, row groups of `ROW_GROUP_ROWS` rows, timestamps as
 * TIMESTAMP(MICROS, isAdjustedToUTC), dictionary pages only for the low-cardinality columns,
 * delta-encoded integers and page-level statistics (min/max per page and column chunk, for
 * predicate pushdown). Its key-value metadata says which stretch of the signed log it holds
 * (`parquet_meta.ts`).
 *
 * Writing is deterministic: the same events and metadata give the same bytes. Nothing in the
 * file depends on the clock or on how the caller batched its events: rows are re-cut into
 * batches of `BATCH_ROWS` (a quarter row group) before they reach the writer, and `created_by` names Vigil's and parquet-wasm's
 * versions rather than a build. Reading gives back events whose canonical JSON equals that of
 * the events written, which is what lets a bundle be checked against the Merkle tree offline.
 *
 * A file that fills a row group is encoded on a Worker while this thread builds the next batch's
 * columns (`parquet_pipe.ts`), a smaller one on this thread: the bytes are the same.
 */

import { type Table, tableFromIPC } from "apache-arrow";
import type { RecordBatch as WasmRecordBatch } from "parquet-wasm/esm";
import { arrowTableEvents, BufferPool, eventsToArrowTable } from "../event/arrow.ts";
import type { AuditEvent } from "../event/model.ts";
import { eventIpcInto } from "./ipc_batch.ts";
import { ipcStreamInto } from "./parquet_ipc.ts";
import type { ParquetFileMeta } from "./parquet_meta.ts";
import { type EncoderWorkers, pipedParquetStream } from "./parquet_pipe.ts";
import { BATCH_ROWS, ROW_GROUP_ROWS, writerProperties } from "./parquet_props.ts";
import { type ParquetWasm, parquetWasm, wasmRecordBatch } from "./parquet_wasm.ts";

export { BATCH_ROWS, CREATED_BY, ROW_GROUP_ROWS } from "./parquet_props.ts";

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
  /** The encoder Worker, kept from file to file of one export (`EncoderWorkers`). */
  workers?: EncoderWorkers;
}

/**
 * A Parquet file of events, as a stream of bytes: `batches` are read lazily, a batch at a time
 * (without `meta`, up to a row group's worth before this resolves, to choose the thread), so
 * memory stays bounded whatever the file's size. Batches may have any size. With `meta`, the events must have exactly its row count and
 * first and last seq, else the stream errors with a RangeError before the footer is written.
 */
export async function parquetEventStream(
  batches: AsyncIterable<readonly AuditEvent[]> | Iterable<readonly AuditEvent[]>,
  meta?: ParquetFileMeta,
  opts: ParquetWriteOptions = {},
): Promise<ReadableStream<Uint8Array>> {
  let groups: AsyncIterable<readonly AuditEvent[]> = encoderBatches(batches, meta);
  let worker = opts.worker ?? "auto";
  if (worker === "auto") {
    // A file that does not fill one row group gains nothing from a Worker but its start-up.
    if (meta) worker = meta.rows >= ROW_GROUP_ROWS;
    else {
      const it = groups[Symbol.asyncIterator]();
      const head: (readonly AuditEvent[])[] = [];
      let rows = 0;
      for (let r = await it.next(); !r.done; r = await it.next()) {
        head.push(r.value);
        if ((rows += r.value.length) >= ROW_GROUP_ROWS) break;
      }
      worker = rows >= ROW_GROUP_ROWS;
      groups = prepend(head, it);
    }
  }
  return await parquetTableStream(eventTables(groups), meta, {
    worker,
    ...(opts.workers ? { workers: opts.workers } : {}),
  });
}

/**
 * A Parquet file of Arrow tables of events (`eventArrowSchema()`, batches of at most
 * `BATCH_ROWS` rows: `BATCH_ROWS` each but the last, for the bytes to be the same however they
 * were built), as a stream of bytes, on a Worker or this thread. Each table is read before the
 * next is asked for, so the tables may share buffers. The caller checks the rows against `meta`.
 */
export async function parquetTableStream(
  tables: AsyncIterable<Table>,
  meta: ParquetFileMeta | undefined,
  opts: { worker: boolean; workers?: EncoderWorkers },
): Promise<ReadableStream<Uint8Array>> {
  if (opts.worker) return pipedParquetStream(tables, meta, opts.workers);
  const pq = await parquetWasm();
  // parquet-wasm ends its output normally when its input errors, or fails with an error of its
  // own: remember the input's error and raise it instead, at the end of the output or in place
  // of the encoder's, so a bad file is never taken for a good one and the cause is named.
  let failure: unknown;
  const guarded = async function* (): AsyncGenerator<WasmRecordBatch> {
    try {
      yield* wasmBatches(pq, tables);
    } catch (e) {
      failure = e;
      throw e;
    }
  };
  const input = ReadableStream.from(guarded());
  let output: ReadableStream<Uint8Array>;
  try {
    output = await pq.transformParquetStream(input, writerProperties(pq, meta));
  } catch (e) {
    throw failure ?? e; // the encoder may read, and fail on, the input before it returns
  }
  const reader = output.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        throw failure ?? e;
      }
      if (!r.done) return controller.enqueue(r.value);
      if (failure !== undefined) throw failure;
      controller.close();
    },
    cancel(reason): Promise<void> {
      return reader.cancel(reason);
    },
  });
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

/**
 * Re-cuts `batches` into `BATCH_ROWS` batches (a whole row group is 32 of them), checking
 * `meta` on the way.
 */
async function* encoderBatches(
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
      if (pending.length === BATCH_ROWS) {
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

/** `head`, already taken from `rest`, then the rest. */
async function* prepend<T>(head: T[], rest: AsyncIterator<T>): AsyncGenerator<T> {
  try {
    yield* head.splice(0);
    for (let r = await rest.next(); !r.done; r = await rest.next()) yield r.value;
  } finally {
    await rest.return?.();
  }
}

/** Batches of events as tables, built in one set of reused buffers (`BufferPool`). */
async function* eventTables(groups: AsyncIterable<readonly AuditEvent[]>): AsyncGenerator<Table> {
  const pool = new BufferPool();
  for await (const group of groups) yield eventsToArrowTable(group, pool);
}

/** Tables as Wasm record batches, through one reused IPC buffer (`ipc_batch.ts`). */
async function* wasmBatches(
  pq: ParquetWasm,
  tables: AsyncIterable<Table>,
): AsyncGenerator<WasmRecordBatch> {
  let ipc: Uint8Array<ArrayBuffer> | undefined;
  for await (const table of tables) {
    ipc = eventIpcInto(table, ipc) ?? await ipcStreamInto(table, ipc);
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
