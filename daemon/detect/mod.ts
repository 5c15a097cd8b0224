/**
 * On-box anomaly detection: the API the daemon and the web UI use.
 *
 * @example
 * ```ts
 * const cfg = detectConfigFromTable(toml.detect ?? {});
 * const engine = new DetectEngine(cfg, {
 *   alerts: AlertStore.open(alertsPath(dataDir)),
 *   channels: channelsFor(cfg),
 * });
 * await attachEngine(engine, store); // replays the log, then follows store.onDurable
 * engine.list({ minSeverity: "high", acked: false });
 * await engine.ack(3, "ada", "known maintenance", store);
 *
 * // In the daemon: state from the snapshot, caught up from the log, snapshotted as it goes.
 * const live = LiveDetection.start(store, { config: cfg, alerts: AlertStore.open(path) });
 * live.status(); // { state: "catching_up", progress: 0.4, … }
 * await live.stop();
 * ```
 */

export { ackEvent, acknowledgeAlert } from "./ack.ts";
export type { Alert, AlertAck, AlertDraft, ReasonFeature } from "./alert.ts";
export { type AlertFilter, alertsPath, AlertStore } from "./alert_store.ts";
export { attachEngine, type BatchResult, detectRange } from "./batch.ts";
export { type AlertChannel, alertJson, alertSummary } from "./channel.ts";
export { channelsFor } from "./channels.ts";
export {
  defaultDetectConfig,
  type DetectConfig,
  detectConfigFromTable,
  SEVERITIES,
  type Severity,
} from "./config.ts";
export type { DetectContext, Detector } from "./detector.ts";
export {
  DetectEngine,
  type DetectorFailure,
  type EngineOptions,
  type FeedRecord,
} from "./engine.ts";
export { detectorsFor } from "./detectors.ts";
export {
  CORE_GAP_COMMANDS,
  type GapCommands,
  gapCommands,
  type GapSource,
} from "./gap_commands.ts";
export { type DetectState, type DetectStatus, LiveDetection, type LiveOptions } from "./live.ts";
export { SNAPSHOT_FILE, snapshotPath } from "./snapshot.ts";
export { ACK_COMMAND, ACK_SOURCE } from "./event_facts.ts";
