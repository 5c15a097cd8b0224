/**
 * Live detection's snapshot (`live.ts`), read and made: whether the data directory's snapshot
 * fits this log, config and alert store, loaded into a new engine; and the header and lines of
 * the engine's state as it is now, for `SnapshotWriter`.
 *
 * Promises: a snapshot is loaded only when its version, config fingerprint, alert lineage and
 * seq fit, and its state reads whole with the seq its header names; otherwise the reason is
 * returned, for the rebuild it calls for. Whether its last event is the log's is the caller's to
 * check (it has the log).
 */

import { META_LINEAGE } from "./alert_store.ts";
import type { AlertStore } from "./alert_store.ts";
import type { DetectEngine } from "./engine.ts";
import { isCurrentVersion, readSnapshot, type SnapshotHeader, snapshotHeader } from "./snapshot.ts";

/** What a snapshot must fit. */
export interface SnapshotFit {
  dataDir: string;
  /** The config's fingerprint (`configFingerprint`). */
  config: string;
  alerts: AlertStore;
  /** Events in the log. */
  size: number;
}

/**
 * The snapshot of `fit.dataDir` loaded into `engine()` (a new one), with its header; or why
 * it cannot be used.
 */
export async function loadSnapshot(
  fit: SnapshotFit,
  engine: () => DetectEngine,
): Promise<{ engine: DetectEngine; header: SnapshotHeader } | string> {
  const snap = await readSnapshot(fit.dataDir);
  if (snap.kind === "missing") return "no snapshot";
  if (snap.kind === "damaged") return `snapshot damaged: ${snap.why}`;
  const h = snap.header;
  if (!isCurrentVersion(h)) return `snapshot of another version (${h.format} ${h.version})`;
  if (h.config !== fit.config) return "the detection config changed";
  if (h.lineage !== fit.alerts.meta(META_LINEAGE)) return "alerts.db does not match the snapshot";
  if (h.seq >= fit.size) return "the snapshot is ahead of the log";
  const e = engine();
  try {
    e.loadState(snap.lines());
  } catch (error) {
    return `snapshot unreadable: ${(error as Error).message}`;
  }
  if (e.lastSeq !== h.seq) return "the snapshot's header and state disagree";
  return { engine: e, header: h };
}

/** The header and lines of `engine`'s state now; `last` is the digest of its last event. */
export function snapshotOf(
  engine: DetectEngine,
  fit: { config: string; alerts: AlertStore; last: string },
  now: number,
): { header: SnapshotHeader; lines: readonly unknown[] } {
  return {
    header: snapshotHeader({
      seq: engine.lastSeq,
      config: fit.config,
      lineage: fit.alerts.meta(META_LINEAGE) ?? "",
      last: fit.last,
    }, now),
    lines: engine.saveState(),
  };
}
