/**
 * What live detection (`live.ts`) is given and what it reports: its options, and its part of
 * the daemon's health (`/healthz`, the status board). Types only, so that the health side can
 * name them without the engine.
 */

import type { AlertStore } from "./alert_store.ts";
import type { AlertChannel } from "./channel.ts";
import type { DetectConfig } from "./config.ts";
import type { Detector } from "./detector.ts";
import type { EngineOptions } from "./engine.ts";

/** Where detection is. */
export type DetectState =
  | "starting"
  | "catching_up"
  | "rebuilding"
  | "running"
  | "failed"
  | "stopped";

/** Detection's part of the daemon's health (`/healthz`, the status board). */
export interface DetectStatus {
  state: DetectState;
  /** False when the engine stopped or a detector was taken out. */
  healthy: boolean;
  /** The last seq taken in; −1 before any. */
  seq: number;
  /** Durable events not taken in yet. */
  behind: number;
  /** Share done of a catch-up or rebuild (0…1); null while following live. */
  progress: number | null;
  /** Why a rebuild runs or ran (`no snapshot`, `snapshot damaged: …`); null after a load. */
  reason: string | null;
  /** What a held catch-up waits for (`holdFor`: a verification, a download); else null. */
  waiting: string | null;
  /** Records read from the log since start: only those after the snapshot's seq. */
  read: number;
  /** The last snapshot written or loaded: its seq and wall time (ms). */
  snapshot: { seq: number; at: number } | null;
  /**
   * What went wrong: the engine's failure, detectors taken out, a snapshot not written, and
   * damaged parts of the log that detection read past (`store/read_past_damage.ts`).
   */
  errors: string[];
}

/** Options of `LiveDetection.start`; `gapCommands` as the engine's. */
export interface LiveOptions extends Pick<EngineOptions, "gapCommands"> {
  config: DetectConfig;
  /** The data directory's alert store, open; the caller closes it after `stop()`. */
  alerts: AlertStore;
  channels?: AlertChannel[];
  /** Every stored alert; `raised` once, when it goes to the channels. */
  onAlert?: NonNullable<EngineOptions["onAlert"]>;
  /** Records between periodic snapshots (default 200,000). */
  snapshotEvery?: number;
  /** Longest wait for a snapshot while records come (default 5 min). */
  snapshotIntervalMs?: number;
  /** The detectors to run; default the config's. */
  detectors?: Detector[];
  now?: () => number;
}
