/**
 * `vigil export-run --data DIR --config FILE [--target NAME] [--retain-local-days N]`: runs the
 * configured `[[exports]]` targets once — resuming an interrupted run first — and, with
 * `--retain-local-days`, then deletes local segments that every target holds and that are older
 * than N days (this needs the data directory's writer lock, so not while `vigil serve` runs; the
 * daemon applies the same retention itself). A progress bar goes to stderr when it is a
 * terminal. Exit 0 done, 2 usage or config error, 3 an export failed (the next run resumes it).
 */

import { Exporter } from "../export/exporter.ts";
import type { RunProgress } from "../export/run_target.ts";
import { loadExportTargets } from "../export/target.ts";
import { print } from "../log.ts";
import { intFlag, noRest, parseFlags, required, UsageError } from "./args.ts";

/** Runs `vigil export-run`; returns the exit code. */
export async function exportRunCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    data: { type: "string" },
    config: { type: "string" },
    target: { type: "string" },
    "retain-local-days": { type: "string" },
  });
  noRest(rest);
  const data = required(values.data, "data");
  const config = required(values.config, "config");
  const retainDays = intFlag(values["retain-local-days"], "retain-local-days");
  try {
    await Deno.stat(`${data}/segments`);
  } catch {
    throw new UsageError(`${data} is not a Vigil data directory (no segments/)`);
  }
  let targets;
  try {
    targets = await loadExportTargets(config);
  } catch (e) {
    if (e instanceof TypeError) throw new UsageError(e.message);
    throw e;
  }
  if (values.target !== undefined && !targets.some((t) => t.name === values.target)) {
    throw new UsageError(`${config} has no [[exports]] target named ${values.target}`);
  }
  if (targets.length === 0) throw new UsageError(`${config} has no [[exports]] targets`);
  const bar = Deno.stderr.isTerminal() ? progressBar() : undefined;
  const exporter = new Exporter(data, targets, bar ? { onProgress: bar } : {});
  let failed = false;
  try {
    const results = await exporter.runNow(values.target);
    for (const [name, r] of results) print(describe(name, r));
  } catch (e) {
    failed = true;
    console.error(`vigil export-run: ${(e as Error).message}`);
  } finally {
    if (bar) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
  }
  if (failed) return 3;
  if (retainDays !== undefined) {
    const { applyRetention } = await import("../export/retention.ts");
    const r = await applyRetention(data, {
      targets: targets.map((t) => t.name),
      localRetentionMs: retainDays * 86_400_000,
    });
    print(
      r.deleted.length === 0
        ? `retention: nothing to delete (${r.reason})`
        : `retention: deleted ${r.deleted.length} segment(s), seqs ${r.fromSeq} to ${r.toSeq - 1}`,
    );
  }
  return 0;
}

function describe(
  name: string,
  r: { runs: { run: string; files: number; bytes: number }[]; exportedEnd: number },
): string {
  if (r.runs.length === 0) return `${name}: up to date (holds seqs below ${r.exportedEnd})`;
  const files = r.runs.reduce((n, x) => n + x.files, 0);
  const bytes = r.runs.reduce((n, x) => n + x.bytes, 0);
  return `${name}: exported run${r.runs.length > 1 ? "s" : ""} ${
    r.runs.map((x) => x.run).join(", ")
  }: ` +
    `${files} files, ${bytes} bytes; holds seqs below ${r.exportedEnd}`;
}

/** A one-line bar redrawn in place: target, phase, files, megabytes, percent. */
function progressBar(): (p: RunProgress) => void {
  const enc = new TextEncoder();
  let last = 0;
  return (p) => {
    const now = performance.now();
    if (now - last < 100 && p.phase === "uploading" && p.bytes.done < p.bytes.total) return;
    last = now;
    const frac = p.bytes.total > 0 ? p.bytes.done / p.bytes.total : p.phase === "done" ? 1 : 0;
    const width = 24, fill = Math.round(frac * width);
    const mb = (n: number) => (n / 1048576).toFixed(1);
    const line = `\r\x1b[K[${p.target}] ${p.phase} ${p.files.done}/${p.files.total} files ` +
      `${mb(p.bytes.done)}/${mb(p.bytes.total)} MiB ${"█".repeat(fill)}${
        "░".repeat(width - fill)
      } ` +
      `${Math.round(frac * 100)}%`;
    Deno.stderr.writeSync(enc.encode(line));
  };
}
