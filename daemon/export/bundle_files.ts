/**
 * Writing a bundle's Parquet files (`bundle.ts`), one a partition, from the spool the log was read
 * into (`spool.ts`): each file built a batch at a time from its lines (`spool_tables.ts`),
 * encoded (for a bundle of a row group or more, on one Worker for all its files while this thread
 * builds the next: `parquet_queue.ts`), hashed as it is written, and synced in the background
 * (`file_syncs.ts`); every sync has ended when this returns. The bundle loads this module while it
 * reads the log, so that Arrow and the encoder load meanwhile.
 */

import { createHash } from "node:crypto";
import { hex } from "../store/keys.ts";
import { FileSyncs } from "./file_syncs.ts";
import type { BundleFile } from "./manifest.ts";
import { BATCH_ROWS, parquetTableStream, ROW_GROUP_ROWS } from "./parquet.ts";
import { EncoderWorkers } from "./parquet_pipe.ts";
import { parquetWasm } from "./parquet_wasm.ts";
import { bundleFilePath } from "./partition.ts";
import type { ParquetFileMeta } from "./parquet_meta.ts";
import { EncoderQueue } from "./parquet_queue.ts";
import type { ExportPlan } from "./plan.ts";
import type { SpooledPartition } from "./spool.ts";
import { spooledTables, SpoolReader } from "./spool_tables.ts";

/** Starts compiling the encoder's Wasm on V8's background threads; a failure shows later. */
export function warmUp(): void {
  parquetWasm().catch(() => {});
}

/**
 * Writes the partitions' files under `work`, in order; returns what the manifest lists of each.
 * A bundle of a row group or more in all is built here and encoded on one Worker
 * (`parquet_queue.ts`), this thread building the next file while the Worker encodes the last; a
 * smaller one on this thread alone (the Worker's start would cost more than it saves). Every
 * file is synced before this returns, or throws (the first error).
 */
export async function writeFiles(
  work: string,
  partitions: readonly SpooledPartition[],
  plan: ExportPlan,
): Promise<BundleFile[]> {
  const files: BundleFile[] = [];
  const ctx: WriteContext = {
    plan,
    workers: new EncoderWorkers(),
    reader: new SpoolReader(BATCH_ROWS),
    syncs: new FileSyncs(),
    dirs: new Set(),
  };
  const rows = partitions.reduce((n, p) => n + p.rows, 0);
  let written = false;
  try {
    if (rows >= ROW_GROUP_ROWS) files.push(...await writeQueued(work, partitions, ctx));
    else for (const part of partitions) files.push(await writePartition(work, part, ctx));
    written = true;
  } finally {
    ctx.workers.close();
    // Every file's sync ends before anything else is written (or, on a failure, before the
    // bundle's directory is removed, with the first error).
    const synced = ctx.syncs.drain();
    await (written ? synced : synced.catch(() => {}));
  }
  return files;
}

/**
 * Writes the partitions' files, built here and encoded, written and hashed on the queue's
 * Worker; each is synced (`ctx.syncs`) once written. Returns what the manifest lists of each.
 */
async function writeQueued(
  work: string,
  partitions: readonly SpooledPartition[],
  ctx: WriteContext,
): Promise<BundleFile[]> {
  using queue = new EncoderQueue();
  const done: Promise<BundleFile>[] = [];
  try {
    for (const part of partitions) {
      const { path, meta } = fileOf(work, part, ctx);
      const tables = spooledTables(part, { batchRows: BATCH_ROWS, want: meta, reader: ctx.reader });
      const { written } = await queue.send(tables, meta, `${work}/${path}`);
      done.push(written.then(async (f) => {
        // Synced as this thread's own files are, by a descriptor of its own (fsync allows it).
        await ctx.syncs.add(Deno.openSync(`${work}/${path}`, { read: true }), path);
        return entry(part, path, f);
      }));
    }
    return await Promise.all(done);
  } finally {
    // Every file sent was sent whole, so the Worker writes it, or fails and rejects it: each
    // settles, and its sync is handed over, before the Worker is ended.
    await Promise.allSettled(done);
  }
}

/** What the files of one bundle share while they are written, one at a time. */
interface WriteContext {
  plan: ExportPlan;
  workers: EncoderWorkers;
  reader: SpoolReader;
  syncs: FileSyncs;
  /** Directories made so far. */
  dirs: Set<string>;
}

/**
 * Writes one partition's Parquet file, hashing it on the way; the file is synced in the
 * background (`ctx.syncs`).
 */
async function writePartition(
  work: string,
  part: SpooledPartition,
  ctx: WriteContext,
): Promise<BundleFile> {
  const { path, meta } = fileOf(work, part, ctx);
  const tables = spooledTables(part, {
    batchRows: BATCH_ROWS,
    want: meta,
    reader: ctx.reader,
  });
  // A file that does not fill one row group gains nothing from a Worker (as `parquet.ts`).
  const worker = part.rows >= ROW_GROUP_ROWS;
  const stream = await parquetTableStream(tables, meta, { worker, workers: ctx.workers });
  const sha = createHash("sha256");
  let bytes = 0;
  // Opened and written synchronously, into the page cache: an awaited call per chunk was a
  // round trip through the I/O threads, which on a busy machine cost more than the write. The
  // sync to disk (`ctx.syncs`) stays in the background.
  const file = Deno.openSync(`${work}/${path}`, { write: true, createNew: true });
  try {
    for await (const chunk of stream) {
      sha.update(chunk);
      bytes += chunk.length;
      for (let at = 0; at < chunk.length;) at += file.writeSync(chunk.subarray(at));
    }
  } catch (e) {
    file.close();
    throw e;
  }
  await ctx.syncs.add(file, path);
  return entry(part, path, { sha256: sha.digest("hex"), bytes });
}

/** The partition's file's path in the bundle (its directory made) and its metadata. */
function fileOf(
  work: string,
  part: SpooledPartition,
  ctx: WriteContext,
): { path: string; meta: ParquetFileMeta } {
  const path = bundleFilePath(part, { first: part.firstSeq, last: part.lastSeq });
  const dir = `${work}/${path.slice(0, path.lastIndexOf("/"))}`;
  if (!ctx.dirs.has(dir)) {
    Deno.mkdirSync(dir, { recursive: true });
    ctx.dirs.add(dir);
  }
  return { path, meta: partitionMeta(part, ctx.plan) };
}

/** What the partition's file says of itself (`parquet_meta.ts`) in the bundle of `plan`. */
export function partitionMeta(part: SpooledPartition, plan: ExportPlan): ParquetFileMeta {
  return {
    firstSeq: part.firstSeq,
    lastSeq: part.lastSeq,
    rows: part.rows,
    leaves: { from: plan.firstSeq, to: plan.endSeq },
    chainBefore: hex(part.chainBefore),
    chainAfter: hex(part.chainAfter),
    checkpoint: plan.checkpoint,
  };
}

/** What the manifest lists of a partition's file. */
function entry(
  part: SpooledPartition,
  path: string,
  written: { sha256: string; bytes: number },
): BundleFile {
  return {
    path,
    source: part.source,
    date: part.date,
    sha256: written.sha256,
    bytes: written.bytes,
    rows: part.rows,
    first_seq: part.firstSeq,
    last_seq: part.lastSeq,
  };
}
