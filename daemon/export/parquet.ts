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
 */

import { tableFromIPC, tableToIPC } from "apache-arrow";
import type { RecordBatch as WasmRecordBatch } from "parquet-wasm/esm";
import { arrowTableEvents, eventsToArrowTable } from "../event/arrow.ts";
import { type AuditEvent, EVENT_FIELDS } from "../event/model.ts";
import { encodeParquetMeta, type ParquetFileMeta } from "./parquet_meta.ts";
import { type ParquetWasm, parquetWasm } from "./parquet_wasm.ts";
import denoJson from "../../deno.json" with { type: "json" };

/** Rows per row group: ~128k, large enough for good compression, small enough to stream. */
export const ROW_GROUP_ROWS = 128 * 1024;

/** The `created_by` of every file: versions only, so that it never varies between runs. */
export const CREATED_BY = `vigil version ${denoJson.version} (${denoJson.imports["parquet-wasm"]})`;

/** Rows per Arrow batch when reading: one row group at a time keeps memory bounded. */
const READ_BATCH_ROWS = ROW_GROUP_ROWS;

function writerProperties(pq: ParquetWasm, meta: ParquetFileMeta | undefined) {
  let b = new pq.WriterPropertiesBuilder()
    .setCreatedBy(CREATED_BY)
    .setCompression(pq.Compression.ZSTD)
    .setMaxRowGroupSize(ROW_GROUP_ROWS)
    .setStatisticsEnabled(pq.EnabledStatistics.Page)
    // Dictionary pages pay only where few values repeat; on text like statements the writer
    // builds a dictionary per page only to give up on it: 1.6x the time, a larger file.
    .setDictionaryEnabled(false)
    .setKeyValueMetadata(encodeParquetMeta(meta));
  for (const spec of EVENT_FIELDS) {
    if (spec.lowCardinality) {
      b = b.setColumnDictionaryEnabled(spec.name, true);
    } else if (spec.type === "int" || spec.type === "ts") {
      // seq and the times rise steadily: deltas shrink them to a few bits (files ~6x smaller).
      b = b.setColumnEncoding(spec.name, pq.Encoding.DELTA_BINARY_PACKED);
    }
  }
  return b.build();
}

/**
 * A Parquet file of events, as a stream of bytes: `batches` are read lazily, one row group at a
 * time, so memory stays bounded whatever the file's size. Batches may have any size. With
 * `meta`, the events must have exactly its row count and first and last seq, else the stream
 * errors with a RangeError before the footer is written.
 */
export async function parquetEventStream(
  batches: AsyncIterable<readonly AuditEvent[]> | Iterable<readonly AuditEvent[]>,
  meta?: ParquetFileMeta,
): Promise<ReadableStream<Uint8Array>> {
  const pq = await parquetWasm();
  // parquet-wasm ends its output normally when its input errors: remember the input's error
  // and raise it at the end of the output instead, so a bad file is never taken for a good one.
  let failure: unknown;
  const guarded = async function* (): AsyncGenerator<WasmRecordBatch> {
    try {
      yield* wasmBatches(pq, batches, meta);
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
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of await parquetEventStream([events], meta)) parts.push(part);
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

/** Re-cuts `batches` into whole row groups of wasm record batches, checking `meta` on the way. */
async function* wasmBatches(
  pq: ParquetWasm,
  batches: AsyncIterable<readonly AuditEvent[]> | Iterable<readonly AuditEvent[]>,
  meta: ParquetFileMeta | undefined,
): AsyncGenerator<WasmRecordBatch> {
  let pending: AuditEvent[] = [];
  let rows = 0, first: number | undefined, last: number | undefined;
  for await (const batch of batches) {
    for (const ev of batch) {
      first ??= ev.seq;
      last = ev.seq;
      pending.push(ev);
      if (pending.length === ROW_GROUP_ROWS) {
        yield toWasm(pq, pending);
        rows += pending.length;
        pending = [];
      }
    }
  }
  // A file of no rows still needs one (empty) batch to carry the schema.
  if (pending.length > 0 || rows === 0) yield toWasm(pq, pending);
  rows += pending.length;
  if (meta && (rows !== meta.rows || first !== meta.firstSeq || last !== meta.lastSeq)) {
    throw new RangeError(
      `Cannot write Parquet: got ${rows} events (seq ${first} to ${last}) but the metadata ` +
        `says ${meta.rows} (seq ${meta.firstSeq} to ${meta.lastSeq})`,
    );
  }
}

function toWasm(pq: ParquetWasm, events: readonly AuditEvent[]): WasmRecordBatch {
  const table = pq.Table.fromIPCStream(tableToIPC(eventsToArrowTable(events), "stream"));
  try {
    const batch = table.recordBatch(0);
    if (!batch) throw new Error("Cannot convert events to Parquet: Arrow table has no batch");
    return batch;
  } finally {
    table.free();
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
