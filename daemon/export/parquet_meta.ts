/**
 * The key-value metadata of an exported Parquet file: which stretch of the signed log its rows
 * come from, so that a file found on its own still says where it belongs. It is one key,
 * `vigil`, holding a JSON object: parquet-wasm hands key-value pairs to the writer through a hash
 * map, so two keys would be written in a different order from run to run, and the file would no
 * longer be the same bytes for the same events. Any Parquet tool shows it, e.g. in DuckDB
 * `SELECT decode(value)::JSON FROM parquet_kv_metadata('f.parquet') WHERE decode(key) = 'vigil'`.
 *
 * | field | value |
 * |---|---|
 * | `event_schema` | version of the event layout (`EVENT_SCHEMA_VERSION`) |
 * | `first_seq`, `last_seq` | seq of the file's first and last row |
 * | `rows` | rows in the file |
 * | `merkle_leaves` | `[from, to)`: the contiguous leaf range of the export the file is part of |
 * | `chain_before`, `chain_after` | chain hash (hex) before the first row and after the last |
 * | `checkpoint` | the signed checkpoint whose tree covers the leaf range |
 */

import { type Checkpoint, parseCheckpoint } from "../store/checkpoint.ts";
import { EVENT_SCHEMA_VERSION } from "../event/schema_version.ts";

/** What an exported file says about itself. */
export interface ParquetFileMeta {
  firstSeq: number;
  lastSeq: number;
  rows: number;
  /** Leaves [from, to) of the export this file belongs to; its rows are some of them. */
  leaves: { from: number; to: number };
  /** Chain hash (hex) before the file's first event and after its last. */
  chainBefore: string;
  chainAfter: string;
  checkpoint: Checkpoint;
}

/** The one key-value metadata key of an exported file. */
export const PARQUET_META_KEY = "vigil";

/** The key-value metadata for `meta`; without `meta`, only the event schema version. */
export function encodeParquetMeta(meta: ParquetFileMeta | undefined): Map<string, string> {
  const value: Record<string, unknown> = { event_schema: EVENT_SCHEMA_VERSION };
  if (meta) {
    value.first_seq = meta.firstSeq;
    value.last_seq = meta.lastSeq;
    value.rows = meta.rows;
    value.merkle_leaves = [meta.leaves.from, meta.leaves.to];
    value.chain_before = meta.chainBefore;
    value.chain_after = meta.chainAfter;
    value.checkpoint = meta.checkpoint;
  }
  return new Map([[PARQUET_META_KEY, JSON.stringify(value)]]);
}

/**
 * Reads the metadata back; undefined when the file carries none (not an export). Throws
 * SyntaxError naming the field that is malformed.
 */
export function decodeParquetMeta(kv: Map<string, string>): ParquetFileMeta | undefined {
  const text = kv.get(PARQUET_META_KEY);
  if (text === undefined) return undefined;
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text);
  } catch {
    throw new SyntaxError(`Parquet metadata "${PARQUET_META_KEY}" is not JSON`);
  }
  if (typeof v !== "object" || v === null || v.first_seq === undefined) return undefined;
  const leaves = v.merkle_leaves;
  if (!Array.isArray(leaves) || leaves.length !== 2 || !leaves.every(isCount)) {
    throw bad("merkle_leaves", "is not [from, to]");
  }
  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpoint(JSON.stringify(v.checkpoint));
  } catch (e) {
    throw bad("checkpoint", (e as Error).message);
  }
  return {
    firstSeq: count(v, "first_seq"),
    lastSeq: count(v, "last_seq"),
    rows: count(v, "rows"),
    leaves: { from: leaves[0]!, to: leaves[1]! },
    chainBefore: hexField(v, "chain_before"),
    chainAfter: hexField(v, "chain_after"),
    checkpoint,
  };
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

function count(v: Record<string, unknown>, field: string): number {
  const x = v[field];
  if (!isCount(x)) throw bad(field, "is not a non-negative integer");
  return x;
}

function hexField(v: Record<string, unknown>, field: string): string {
  const x = v[field];
  if (typeof x !== "string" || !/^[0-9a-f]{64}$/.test(x)) throw bad(field, "is not a hex hash");
  return x;
}

function bad(field: string, why: string): SyntaxError {
  return new SyntaxError(`Parquet metadata "${PARQUET_META_KEY}": ${field} ${why}`);
}
