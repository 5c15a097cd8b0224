/**
 * Writing an air-gapped bundle: a contiguous run of the signed log as Parquet files, one per
 * source and UTC day, under `events/date=<yyyy-mm-dd>/` (`partition.ts`), with a signed manifest
 * (`manifest.ts`), the public key and a README for the auditor at the top. It streams: the log
 * is read once, a segment at a time, into a spool file that keeps each partition's lines apart
 * (`collect.ts`, `spool.ts`), then each partition's file is written from them a batch at a time
 * (`bundle_files.ts`), so memory is bounded by a segment and a few Parquet batches whatever the
 * range. The bundle is built in a temporary directory beside `outDir` and renamed into place
 * only when whole and synced, so a crash or an error never leaves half a bundle where a bundle
 * is expected (a crash may leave a `.vigil-export-*` directory beside it, safe to remove). The
 * store is read, never written: this runs beside a serving daemon.
 *
 * @example
 * const summary = await writeBundle("/var/lib/vigil", "/media/usb/q1", { from, to });
 */

import { formatRfc3339Micros } from "../event/time.ts";
import { type Checkpoint } from "../store/checkpoint.ts";
import { type Handover, readHandovers } from "../store/key_handover.ts";
import { hex, loadKey, PRIVATE_KEY_FILE, publicKeyPem, unhex } from "../store/keys.ts";
import { consistencyProof, rootFromNodes, verifyConsistency } from "../store/merkle.ts";
import type { MerkleLevels } from "../store/merkle_levels.ts";
import { openMerkleReader } from "../store/merkle_log.ts";
import { storePaths } from "../store/store_open.ts";
import { type Collected, collectRange } from "./collect.ts";
import {
  BUNDLE_VERSION,
  type BundleFile,
  encodeManifest,
  type Manifest,
  MANIFEST_FILE,
  PUBLIC_KEY_FILE,
  README_FILE,
  SIGNATURE_FILE,
  signManifest,
} from "./manifest.ts";
import { type ExportPlan, planExport } from "./plan.ts";
import { PartitionSpool } from "./spool.ts";
import { bundleReadme } from "./readme.ts";

/** Event-time bounds of an export, µs since the epoch: `from ≤ ts < to`. */
export interface BundleOptions {
  from?: number;
  to?: number;
  /** Exact seqs [from, to) instead of times: what the exporter asks for. */
  seqs?: { from: number; to: number };
}

/** What was exported. */
export interface BundleSummary {
  dir: string;
  firstSeq: number;
  lastSeq: number;
  events: number;
  files: number;
  bytes: number;
  checkpoint: Checkpoint;
  /** Newer events left out because no checkpoint signs them yet. */
  unsigned: number;
  keyId: string;
}

/**
 * Exports the signed events of `dataDir` in the time range to a new bundle at `outDir`, which
 * must not exist or be an empty directory. Throws NothingToExportError when there is nothing to
 * export, StoreDamageError when the log does not match its signatures.
 */
export async function writeBundle(
  dataDir: string,
  outDir: string,
  opts: BundleOptions = {},
): Promise<BundleSummary> {
  const paths = storePaths(dataDir);
  try {
    await Deno.stat(`${paths.keys}/${PRIVATE_KEY_FILE}`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    // Never create a key here: a bundle signed by a new key would prove nothing.
    throw new Error(`Cannot export from ${dataDir}: no signing key in ${paths.keys}`);
  }
  await checkOutDir(outDir);
  // The Parquet writer (Arrow, the encoder's Wasm) loads and compiles while the log is read,
  // rather than before (~0.1 s) or after it, when the first file waited on the Wasm (~0.1 s).
  // A failure shows where the files are written.
  const writer = import("./bundle_files.ts").then((m) => (m.warmUp(), m));
  writer.catch(() => {});
  const key = await loadKey(paths.keys);
  // Read after the key: a rotation records its handover before it installs the new key.
  const handovers = await readHandovers(paths.keys);
  const plan = await planExport(dataDir, opts);
  const levels = await openMerkleReader(dataDir);
  const parent = parentDir(outDir);
  let work: string | undefined;
  try {
    await Deno.mkdir(parent, { recursive: true });
    work = await Deno.makeTempDir({ dir: parent, prefix: ".vigil-export-" });
    await Deno.mkdir(`${work}/.spool`);
    // Closed when the collect fails too, before the work directory is removed.
    using spool = new PartitionSpool(`${work}/.spool`);
    const got = await collectRange(dataDir, plan, { levels, spool });
    const files = await (await writer).writeFiles(work, got.partitions, plan);
    // The spool is removed, and the last four files written and synced, at once: a sync each,
    // one after the other, was a journal commit each on a busy disk. All of it has settled
    // before the directories are synced, or the work directory removed on a failure.
    const pending: Promise<unknown>[] = [Deno.remove(`${work}/.spool`, { recursive: true })];
    let results: PromiseSettledResult<unknown>[] = [];
    try {
      const m = plan.previous?.size ?? 0;
      const consistency = await levels.read(() =>
        consistencyProof(m, plan.checkpoint.size, levels)
      );
      const manifest = buildManifest(plan, got, files, {
        keyId: key.keyId,
        handovers,
        levels,
        consistency,
        opts,
      });
      const bytes = encodeManifest(manifest);
      const signature = await signManifest(bytes, key.privateKey);
      pending.push(
        writeSynced(`${work}/${MANIFEST_FILE}`, bytes),
        writeSynced(`${work}/${SIGNATURE_FILE}`, signature),
        writeSynced(`${work}/${PUBLIC_KEY_FILE}`, publicKeyPem(key.publicRaw)),
        writeSynced(`${work}/${README_FILE}`, bundleReadme(manifest)),
      );
    } finally {
      results = await Promise.allSettled(pending);
    }
    throwFirst(results);
    await syncDirs(work, files);
    await moveInto(work, outDir);
    return {
      dir: outDir,
      firstSeq: plan.firstSeq,
      lastSeq: plan.endSeq - 1,
      events: plan.endSeq - plan.firstSeq,
      files: files.length,
      bytes: files.reduce((n, f) => n + f.bytes, 0),
      checkpoint: plan.checkpoint,
      unsigned: plan.unsigned,
      keyId: key.keyId,
    };
  } catch (e) {
    if (work) await Deno.remove(work, { recursive: true }).catch(() => {});
    throw e;
  } finally {
    levels.close();
  }
}

function buildManifest(
  plan: ExportPlan,
  got: Collected,
  files: BundleFile[],
  ctx: {
    keyId: string;
    handovers: Handover[];
    levels: MerkleLevels;
    consistency: Uint8Array[];
    opts: BundleOptions;
  },
): Manifest {
  const cp = plan.checkpoint;
  const m = plan.previous?.size ?? 0;
  const proof = ctx.consistency;
  // Checked before it is signed, as `vigil prove` does: a damaged node file must not yield a
  // bundle that fails on the auditor's desk.
  const rootM = plan.previous ? unhex(plan.previous.root) : rootFromNodes(0, ctx.levels);
  if (!verifyConsistency(m, cp.size, rootM, unhex(cp.root), proof)) {
    throw new Error(`Cannot export: the consistency proof from ${m} to ${cp.size} does not verify`);
  }
  const time = (t: number | undefined) => t === undefined ? null : formatRfc3339Micros(t);
  return {
    format: "vigil-bundle",
    version: BUNDLE_VERSION,
    key_id: ctx.keyId,
    ...(ctx.handovers.length > 0 ? { key_handovers: ctx.handovers } : {}),
    range: {
      first_seq: plan.firstSeq,
      last_seq: plan.endSeq - 1,
      events: plan.endSeq - plan.firstSeq,
    },
    requested: { from: time(ctx.opts.from), to: time(ctx.opts.to) },
    chain_before: hex(got.chainBefore),
    chain_after: hex(got.chainAfter),
    frontier: got.frontier.toJSON(),
    suffix: { from: plan.endSeq, to: cp.size, nodes: got.suffix.map(hex) },
    checkpoint: cp,
    previous_checkpoint: plan.previous,
    inner_checkpoints: plan.inner,
    consistency: { from_size: m, to_size: cp.size, proof: proof.map(hex) },
    files,
  };
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
}

async function writeSynced(path: string, data: Uint8Array | string): Promise<void> {
  using file = await Deno.open(path, { write: true, createNew: true });
  await writeAll(file, typeof data === "string" ? new TextEncoder().encode(data) : data);
  await file.sync();
}

/** Directories synced at once. */
const DIR_SYNCS = 16;

/**
 * Makes the bundle's directory entries durable (files are synced as written), `DIR_SYNCS` at
 * once: every sync ends before this returns, and so before the bundle is renamed into place.
 */
async function syncDirs(work: string, files: readonly BundleFile[]): Promise<void> {
  const dirs = new Set<string>([work]);
  for (const f of files) {
    for (let i = f.path.indexOf("/"); i > 0; i = f.path.indexOf("/", i + 1)) {
      dirs.add(`${work}/${f.path.slice(0, i)}`);
    }
  }
  const all = [...dirs];
  for (let i = 0; i < all.length; i += DIR_SYNCS) {
    throwFirst(await Promise.allSettled(all.slice(i, i + DIR_SYNCS).map(syncDir)));
  }
}

/** Throws the reason of the first promise that failed, if any did. */
function throwFirst(results: readonly PromiseSettledResult<unknown>[]): void {
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}

async function syncDir(path: string): Promise<void> {
  using dir = await Deno.open(path, { read: true });
  await dir.sync();
}

/** Refuses an `outDir` that exists and is anything but an empty directory. */
async function checkOutDir(outDir: string): Promise<boolean> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(outDir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
  if (!info.isDirectory) {
    throw new Error(`Cannot write the bundle to ${outDir}: it exists and is not a directory`);
  }
  for await (const _ of Deno.readDir(outDir)) {
    throw new Error(`Cannot write the bundle to ${outDir}: the directory is not empty`);
  }
  return true;
}

/** Renames the finished bundle into place (replacing an empty `outDir`) and makes it durable. */
async function moveInto(work: string, outDir: string): Promise<void> {
  if (await checkOutDir(outDir)) await Deno.remove(outDir);
  await Deno.rename(work, outDir);
  await syncDir(parentDir(outDir));
}

function parentDir(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : trimmed.slice(0, i);
}
