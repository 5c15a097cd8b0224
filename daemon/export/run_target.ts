/**
 * One export run to one target: plan → stage → upload and confirm each file → done, every step
 * journaled before it is relied on. A run covers the signed events the target does not have yet:
 * from the end of its last finished run (or the first event on disk) to the latest checkpoint.
 * It is staged as an air-gapped bundle (`writeBundle`, deterministic: the same seqs give the same
 * bytes) in the data directory, then uploaded — Parquet files under their Hive keys
 * (`date=<yyyy-mm-dd>/<first>-<last>.parquet`, the bundle's `events/` left out), the signed
 * manifest, its signature, the public key and the README under `_vigil/exports/<run>/`, the
 * manifest last, so that a manifest in the bucket means every file it names is there. Hive
 * readers skip directories starting with `_`.
 *
 * After a crash the unfinished run is resumed: its staging is rebuilt if missing (and must hash
 * as planned), files the journal says were uploaded are confirmed with a HEAD, files uploaded
 * but not yet journaled are found by HEAD and not sent again, and a multipart upload resumes
 * from the parts the server holds.
 */

import { createHash } from "node:crypto";
import { log } from "../log.ts";
import { readCheckpoints } from "../store/checkpoint.ts";
import { listSegments } from "../store/segment_file.ts";
import { storePaths } from "../store/store_open.ts";
import { writeBundle } from "./bundle.ts";
import { exportedEnd, type ExportJournal, type PlannedFile, type RunState } from "./journal.ts";
import {
  MANIFEST_FILE,
  parseManifest,
  PUBLIC_KEY_FILE,
  README_FILE,
  SIGNATURE_FILE,
} from "./manifest.ts";
import { archiveKey } from "./partition.ts";
import type { LocalFile, Sink } from "./sink.ts";

/** Where a run stands, for progress bars, the UI and metrics. */
export interface RunProgress {
  target: string;
  phase: "planning" | "staging" | "uploading" | "done";
  run?: string;
  firstSeq?: number;
  endSeq?: number;
  files: { done: number; total: number };
  bytes: { done: number; total: number };
  /** Files found already at the target (after a crash) and not sent again. */
  skipped: number;
}

/** What a call did. */
export interface RunResult {
  /** Runs finished by this call (a resumed one, then a new one). */
  runs: { run: string; firstSeq: number; endSeq: number; files: number; bytes: number }[];
  /** Seq up to which the target now holds every event. */
  exportedEnd: number;
}

const PAD = 12;

/** The directory under the data dir where runs are staged. */
export function stagingDir(dataDir: string, target: string, run?: string): string {
  return `${dataDir}/export-staging/${target}${run ? `/${run}` : ""}`;
}

/**
 * Brings `sink` up to the latest checkpoint: finishes an interrupted run, then exports what is
 * new. Throws on the first failure; the journal keeps what was done.
 */
export async function exportToTarget(
  dataDir: string,
  sink: Sink,
  journal: ExportJournal,
  opts: { onProgress?: (p: RunProgress) => void; signal?: AbortSignal } = {},
): Promise<RunResult> {
  const result: RunResult = { runs: [], exportedEnd: exportedEnd(journal.records, sink.name) };
  const progress: RunProgress = {
    target: sink.name,
    phase: "planning",
    files: { done: 0, total: 0 },
    bytes: { done: 0, total: 0 },
    skipped: 0,
  };
  const report = () => opts.onProgress?.(structuredClone(progress));
  report();
  const open = journal.runs(sink.name).find((r) => !r.done);
  if (open) {
    log("info", "resuming an interrupted export", { target: sink.name, run: open.run });
    await upload(dataDir, sink, journal, open, { progress, report, signal: opts.signal });
    result.runs.push(summary(open));
  }
  const cps = (await readCheckpoints(storePaths(dataDir).checkpoints)).checkpoints;
  const signed = cps[cps.length - 1]?.size ?? 0;
  const logStart = (await listSegments(storePaths(dataDir).segments))[0]?.firstSeq ?? 0;
  const done = exportedEnd(journal.records, sink.name);
  if (done < logStart && done > 0) {
    log("warn", "the target misses events that retention has already deleted locally", {
      target: sink.name,
      from: done,
      to: logStart,
    });
  }
  const from = Math.max(done, logStart);
  if (signed > from) {
    const run = `${String(from).padStart(PAD, "0")}-${String(signed - 1).padStart(PAD, "0")}`;
    progress.phase = "staging";
    Object.assign(progress, { run, firstSeq: from, endSeq: signed });
    report();
    const dir = stagingDir(dataDir, sink.name, run);
    await stage(dataDir, dir, { from, to: signed });
    const files = await stagedFiles(dir, run);
    await journal.append({
      op: "plan",
      target: sink.name,
      run,
      first_seq: from,
      end_seq: signed,
      files,
      ts: Date.now() * 1000,
    });
    const state = journal.runs(sink.name).find((r) => r.run === run)!;
    await upload(dataDir, sink, journal, state, { progress, report, signal: opts.signal });
    result.runs.push(summary(state));
  }
  result.exportedEnd = exportedEnd(journal.records, sink.name);
  progress.phase = "done";
  report();
  return result;
}

/** Uploads and confirms every file of a planned run, then journals it done. */
async function upload(
  dataDir: string,
  sink: Sink,
  journal: ExportJournal,
  run: RunState,
  ctx: { progress: RunProgress; report: () => void; signal: AbortSignal | undefined },
): Promise<void> {
  const dir = stagingDir(dataDir, sink.name, run.run);
  await ensureStaged(dataDir, dir, run);
  const { progress, report } = ctx;
  Object.assign(progress, {
    phase: "uploading",
    run: run.run,
    firstSeq: run.firstSeq,
    endSeq: run.endSeq,
    files: { done: 0, total: run.files.length },
    bytes: { done: 0, total: run.files.reduce((n, f) => n + f.bytes, 0) },
  });
  report();
  const base = { target: sink.name, run: run.run };
  for (const f of run.files) {
    ctx.signal?.throwIfAborted();
    const local: LocalFile = {
      path: `${dir}/${f.path}`,
      bytes: f.bytes,
      sha256: f.sha256,
      md5: f.md5,
    };
    const found = await sink.head(f.key);
    const at = found && await sink.matches(found, local)
      ? (sink.seal ? await sink.seal(f.key, found) : found)
      : null;
    let etag: string;
    if (at && run.uploaded.has(f.key)) {
      etag = at.etag;
      progress.bytes.done += f.bytes; // confirmed again after a restart
    } else if (at) {
      // Uploaded before a crash cut the journal line: record it, do not send it again.
      etag = at.etag;
      await journal.append({
        op: "uploaded",
        ...base,
        key: f.key,
        bytes: f.bytes,
        etag: at.etag,
        ...(at.versionId ? { version_id: at.versionId } : {}),
      });
      progress.skipped++;
      progress.bytes.done += f.bytes;
    } else {
      if (run.uploaded.has(f.key)) {
        log(
          "warn",
          "an object the journal has as uploaded is missing or different; sending it again",
          { ...base, key: f.key },
        );
      }
      const resume = run.multipart.get(f.key);
      const stored = await sink.put(f.key, local, {
        ...(resume ? { resumeUploadId: resume } : {}),
        onUploadStarted: (id) =>
          journal.append({ op: "multipart", ...base, key: f.key, upload_id: id }),
        onPart: (id, p) =>
          journal.append({
            op: "part",
            ...base,
            key: f.key,
            upload_id: id,
            part: p.part,
            etag: p.etag,
          }),
        onBytes: (n) => {
          progress.bytes.done += n;
          report();
        },
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      await journal.append({
        op: "uploaded",
        ...base,
        key: f.key,
        bytes: stored.bytes,
        etag: stored.etag,
        ...(stored.versionId ? { version_id: stored.versionId } : {}),
      });
      etag = stored.etag;
    }
    run.uploaded.set(f.key, etag);
    progress.files.done++;
    report();
  }
  await journal.append({ op: "done", ...base, end_seq: run.endSeq, ts: Date.now() * 1000 });
  run.done = true;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** Makes sure the run's staged files are there and hash as planned; rebuilds them if not. */
async function ensureStaged(dataDir: string, dir: string, run: RunState): Promise<void> {
  if (await hashesMatch(dir, run.files)) return;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await stage(dataDir, dir, { from: run.firstSeq, to: run.endSeq });
  if (!(await hashesMatch(dir, run.files))) {
    throw new Error(
      `Cannot resume export run ${run.run}: the store no longer gives the files it planned ` +
        `(run vigil verify; a run planned by a Vigil before bundle version 2 resumes only ` +
        `from its staged files in ${dir})`,
    );
  }
}

async function hashesMatch(dir: string, files: readonly PlannedFile[]): Promise<boolean> {
  for (const f of files) {
    try {
      const h = await hashFile(`${dir}/${f.path}`);
      if (h.sha256 !== f.sha256 || h.bytes !== f.bytes) return false;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }
  return true;
}

async function stage(dataDir: string, dir: string, seqs: { from: number; to: number }) {
  await Deno.mkdir(dir.slice(0, dir.lastIndexOf("/")), { recursive: true, mode: 0o700 });
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await writeBundle(dataDir, dir, { seqs });
}

/** The files of a staged run in upload order: Parquet files, then the manifest's companions. */
async function stagedFiles(dir: string, run: string): Promise<PlannedFile[]> {
  const manifest = parseManifest(await Deno.readFile(`${dir}/${MANIFEST_FILE}`));
  const out: PlannedFile[] = [];
  const add = async (path: string, key: string) => {
    out.push({ key, path, ...await hashFile(`${dir}/${path}`) });
  };
  // A bundle's `events/date=…/` file goes to `date=…/` at the target: its top is the table.
  for (const f of manifest.files) await add(f.path, archiveKey(f.path));
  for (const name of [PUBLIC_KEY_FILE, README_FILE, SIGNATURE_FILE, MANIFEST_FILE]) {
    await add(name, `_vigil/exports/${run}/${name}`);
  }
  return out;
}

/** SHA-256, MD5 and size of a file, in one read. */
export async function hashFile(
  path: string,
): Promise<{ bytes: number; sha256: string; md5: string }> {
  const sha = createHash("sha256"), md5 = createHash("md5");
  let bytes = 0;
  using f = await Deno.open(path, { read: true });
  const buf = new Uint8Array(1 << 20);
  for (;;) {
    const n = await f.read(buf);
    if (n === null) break;
    sha.update(buf.subarray(0, n));
    md5.update(buf.subarray(0, n));
    bytes += n;
  }
  return { bytes, sha256: sha.digest("hex"), md5: md5.digest("hex") };
}

function summary(r: RunState): RunResult["runs"][number] {
  return {
    run: r.run,
    firstSeq: r.firstSeq,
    endSeq: r.endSeq,
    files: r.files.length,
    bytes: r.files.reduce((n, f) => n + f.bytes, 0),
  };
}
