/**
 * Writing a bundle's Parquet files (`bundle.ts`), one a partition, from the spool the log was read
 * into (`spool.ts`): each file built a batch at a time from its lines (`spool_tables.ts`),
 * encoded (`parquet.ts`: a Worker for a file that fills a row group), hashed as it is written,
 * and synced in the background (`file_syncs.ts`); every sync has ended when this returns. The
 * bundle loads this module while it reads the log, so that Arrow and the encoder load meanwhile.
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
import type { ExportPlan } from "./plan.ts";
import type { SpooledPartition } from "./spool.ts";
import type { SpoolFileJob } from "./spool_file_worker.ts";
import { SpoolFileWorker } from "./spool_files.ts";
import { spooledTables, SpoolReader } from "./spool_tables.ts";

/** Starts compiling the encoder's Wasm on V8's background threads; a failure shows later. */
export function warmUp(): void {
  parquetWasm().catch(() => {});
}

/**
 * Writes the partitions' files under `work`; returns what the manifest lists of each, in the
 * partitions' order. A file of a row group or more is built here and encoded on the encoder
 * Worker (`parquet_pipe.ts`); those go first, then the smaller ones are shared between this
 * thread and a Worker that writes whole files (`spool_files.ts`), never both Workers at once.
 * Every file is synced before this returns, or throws (the first error).
 */
export async function writeFiles(
  work: string,
  partitions: readonly SpooledPartition[],
  plan: ExportPlan,
): Promise<BundleFile[]> {
  const files: BundleFile[] = new Array(partitions.length);
  const ctx: WriteContext = {
    plan,
    workers: new EncoderWorkers(),
    reader: new SpoolReader(BATCH_ROWS),
    syncs: new FileSyncs(),
    dirs: new Set(),
  };
  const small: number[] = [];
  let written = false;
  try {
    for (const [i, part] of partitions.entries()) {
      if (part.rows < ROW_GROUP_ROWS) small.push(i);
      else files[i] = await writePartition(work, part, ctx);
    }
    ctx.workers.close();
    await writeShared(work, partitions, small, files, ctx);
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
 * Writes the files of `partitions[small[k]]` into `files[small[k]]`, on this thread and the
 * file Worker at once (this thread alone for a single file: the Worker's start would cost more).
 */
async function writeShared(
  work: string,
  partitions: readonly SpooledPartition[],
  small: readonly number[],
  files: BundleFile[],
  ctx: WriteContext,
): Promise<void> {
  if (small.length < 2) {
    for (const i of small) files[i] = await writePartition(work, partitions[i]!, ctx);
    return;
  }
  const jobs: SpoolFileJob[] = small.map((i) => {
    const part = partitions[i]!;
    return { part: { file: part.file, extents: part.extents }, meta: fileOf(work, part, ctx).meta };
  });
  using helper = new SpoolFileWorker(jobs);
  const keep = async (): Promise<void> => {
    for (const f of helper.take()) {
      const i = small[f.index]!;
      const part = partitions[i]!;
      files[i] = await writeOut(work, fileOf(work, part, ctx).path, part, ctx, [f.bytes]);
    }
  };
  for (let k = helper.claim(); k < small.length; k = helper.claim()) {
    const i = small[k]!;
    files[i] = await writePartition(work, partitions[i]!, ctx);
    await keep();
  }
  while (!await helper.finished()) await keep();
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
 * Writes one partition's Parquet file on this thread, hashing it on the way; the file is synced
 * in the background (`ctx.syncs`).
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
  return await writeOut(work, path, part, ctx, stream);
}

/** The partition's file's path in the bundle (its directory made) and its metadata. */
function fileOf(
  work: string,
  part: SpooledPartition,
  ctx: WriteContext,
): { path: string; meta: ParquetFileMeta } {
  const { plan } = ctx;
  const path = bundleFilePath(part, { first: part.firstSeq, last: part.lastSeq });
  const dir = `${work}/${path.slice(0, path.lastIndexOf("/"))}`;
  if (!ctx.dirs.has(dir)) {
    Deno.mkdirSync(dir, { recursive: true });
    ctx.dirs.add(dir);
  }
  const meta = {
    firstSeq: part.firstSeq,
    lastSeq: part.lastSeq,
    rows: part.rows,
    leaves: { from: plan.firstSeq, to: plan.endSeq },
    chainBefore: hex(part.chainBefore),
    chainAfter: hex(part.chainAfter),
    checkpoint: plan.checkpoint,
  };
  return { path, meta };
}

/**
 * Writes a file's bytes to `path` under `work` as they come, hashing them, and hands the file to
 * `ctx.syncs`; returns what the manifest lists of it.
 */
async function writeOut(
  work: string,
  path: string,
  part: SpooledPartition,
  ctx: WriteContext,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<BundleFile> {
  const sha = createHash("sha256");
  let bytes = 0;
  // Opened and written synchronously, into the page cache: an awaited call per chunk was a
  // round trip through the I/O threads, which on a busy machine cost more than the write. The
  // sync to disk (`ctx.syncs`) stays in the background.
  const file = Deno.openSync(`${work}/${path}`, { write: true, createNew: true });
  try {
    for await (const chunk of chunks) {
      sha.update(chunk);
      bytes += chunk.length;
      for (let at = 0; at < chunk.length;) at += file.writeSync(chunk.subarray(at));
    }
  } catch (e) {
    file.close();
    throw e;
  }
  await ctx.syncs.add(file, path);
  return {
    path,
    source: part.source,
    date: part.date,
    sha256: sha.digest("hex"),
    bytes,
    rows: part.rows,
    first_seq: part.firstSeq,
    last_seq: part.lastSeq,
  };
}
