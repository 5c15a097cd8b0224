/**
 * Export and retention inside `vigil serve`: every `[[exports]]` target runs on its interval
 * (and at start), and when `[store] retain_local` is set, a retention pass after each run
 * deletes the oldest sealed segments that every target holds and that are older than that —
 * with a `RETENTION_DELETE` event in the chain, the Merkle frontier kept for `vigil verify`, and
 * the search index's rows of the deleted events dropped.
 * Retention follows reloads (the web UI sets it in `managed.toml`); the targets themselves are
 * those the daemon started with.
 * Returns the exporters' state for the web UI.
 */

import { exportTargetFromTable } from "../export/target.ts";
import { Exporter } from "../export/exporter.ts";
import { applyRetention } from "../export/retention.ts";
import { log } from "../log.ts";
import type { DaemonParts } from "../serve/daemon.ts";
import type { ExportsState } from "../../web/deps.ts";

/** How often retention looks again, besides after each export run. */
const RETENTION_EVERY_MS = 3_600_000;

/** Starts the exporters (if any target is configured); stops with the daemon. */
export async function startExports(parts: DaemonParts): Promise<ExportsState | undefined> {
  const { config, store, index } = parts;
  if (config.exports.length === 0) return undefined;
  const targets = config.exports.map((e) => exportTargetFromTable({ ...e.table }));
  const names = targets.map((t) => t.name);
  let retaining: Promise<void> = Promise.resolve();
  const retain = (): void => {
    const retainMs = parts.currentConfig().store.retainLocalMs;
    if (retainMs === null) return;
    retaining = retaining.then(async () => {
      try {
        const r = await applyRetention(config.dataDir, {
          targets: names,
          localRetentionMs: retainMs,
          store,
        });
        // The index rows of deleted events go too: the index holds only what the log does.
        if (r.toSeq > r.fromSeq) await index.dropBefore(r.toSeq);
        if (r.deleted.length > 0) {
          log("info", "retention deleted exported segments", {
            segments: r.deleted.length,
            from_seq: r.fromSeq,
            to_seq: r.toSeq,
          });
        }
      } catch (error) {
        log("error", "retention pass failed; nothing more was deleted", { error: String(error) });
      }
    });
  };
  const exporter = new Exporter(config.dataDir, targets, {
    onProgress: (p) => {
      if (p.phase === "done") retain();
    },
    onRun: (run) => parts.holdBackground(run, "an export run"),
  });
  await exporter.load();
  exporter.start();
  const timer = setInterval(retain, RETENTION_EVERY_MS);
  parts.onStop(async () => {
    clearInterval(timer);
    await exporter.stop();
    await retaining;
  });
  return exporter;
}
