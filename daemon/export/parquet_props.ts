/**
 * How every Parquet file of events is written: the writer properties, shared by the writer on
 * the calling thread and the one on a Worker (`parquet_worker.ts`) so that both give the same
 * bytes for the same events.
 */

import { EVENT_FIELDS } from "../event/model.ts";
import { encodeParquetMeta, type ParquetFileMeta } from "./parquet_meta.ts";
import type { ParquetWasm } from "./parquet_wasm.ts";
import denoJson from "../../deno.json" with { type: "json" };

/** Rows per row group: ~128k, large enough for good compression, small enough to stream. */
export const ROW_GROUP_ROWS = 128 * 1024;

/**
 * Rows handed to the encoder at a time: 4096, a 32nd of a row group, which the encoder encodes
 * as it comes (it cuts pages at these boundaries too). Whole row groups at a time held ~390 MiB
 * beside the events (a row group's Arrow columns, their IPC copies and the encoder's copy); at
 * 4096 rows an export of 300k events peaked at 222 MiB, against 316 MiB at 32k rows, and files
 * came out ~5% larger than at 32k (a page per batch at least). The bytes depend on it: files
 * written before it was cut this way had other page boundaries.
 */
export const BATCH_ROWS = ROW_GROUP_ROWS / 32;

/** The `created_by` of every file: versions only, so that it never varies between runs. */
export const CREATED_BY = `vigil version ${denoJson.version} (${denoJson.imports["parquet-wasm"]})`;

/** The writer properties of a file with the key-value metadata of `meta`. */
export function writerProperties(
  pq: ParquetWasm,
  meta: ParquetFileMeta | undefined,
): ReturnType<InstanceType<ParquetWasm["WriterPropertiesBuilder"]>["build"]> {
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
