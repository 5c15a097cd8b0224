/**
 * Detection over the stored log: the engine replayed from the first event, so that every role's
 * history is learned, and the alerts whose span meets [from, to) kept. The same engine as the
 * incremental path, fed the same records in the same order, hence the same alerts. Rewriting
 * `alerts.db` keeps its `raised_through` mark (so a daemon rebuilding after it sends nothing
 * twice) and drops its lineage (so the daemon's snapshot, made beside other alerts, is rebuilt).
 * Also the attachment of an engine to a live store (`attachEngine`); the daemon itself uses
 * `LiveDetection`, which resumes from a snapshot.
 */

import type { DurableRecord, Store } from "../store/store.ts";
import { readLog } from "../store/log_reader.ts";
import type { Alert } from "./alert.ts";
import { AlertStore, META_RAISED } from "./alert_store.ts";
import type { DetectConfig } from "./config.ts";
import { DetectEngine, type DetectorFailure, type FeedRecord } from "./engine.ts";
import type { GapCommands } from "./gap_commands.ts";

/** Records fed to the engine per call during a replay. */
const CHUNK = 4096;

/** What a batch run found. */
export interface BatchResult {
  events: number;
  alerts: Alert[];
  /** Detectors that threw and were taken out. */
  failures: readonly DetectorFailure[];
}

/**
 * Runs detection over the events of `dataDir` with event time before `to`, and returns the
 * alerts that overlap [from, to). `alerts` receives them (cleared first) when given.
 */
export async function detectRange(
  dataDir: string,
  cfg: DetectConfig,
  opts: { from?: number; to?: number; alerts?: AlertStore; gapCommands?: GapCommands } = {},
): Promise<BatchResult> {
  const from = opts.from ?? -Infinity;
  const to = opts.to ?? Infinity;
  const scratch = AlertStore.memory();
  const engine = new DetectEngine(cfg, {
    alerts: scratch,
    ...(opts.gapCommands === undefined ? {} : { gapCommands: opts.gapCommands }),
  });
  let chunk: FeedRecord[] = [];
  for await (const r of readLog(dataDir)) {
    // Acks are kept whatever their time: they belong to alerts, not to the range.
    if (r.event.ts >= to && r.event.source !== "vigil-detect") continue;
    chunk.push(r);
    if (chunk.length >= CHUNK) {
      engine.feed(chunk);
      chunk = [];
    }
  }
  engine.feed(chunk);
  engine.flush();
  const found = scratch.list({
    ...(from === -Infinity ? {} : { from }),
    ...(to === Infinity ? {} : { to }),
  });
  scratch.close();
  if (opts.alerts) {
    const out = opts.alerts;
    out.transaction(() => {
      const raised = out.meta(META_RAISED);
      out.clear();
      for (const a of found) out.put(a);
      out.setMeta("range", JSON.stringify({ from: opts.from ?? null, to: opts.to ?? null }));
      if (raised !== undefined) out.setMeta(META_RAISED, raised);
    });
    return { events: engine.events, alerts: out.list(), failures: engine.failures };
  }
  return { events: engine.events, alerts: found, failures: engine.failures };
}

/**
 * Attaches `engine` to a live store: replays the log it has not seen, then follows
 * `store.onDurable`. Records that become durable during the replay are held and fed after it,
 * in order, so none is missed or fed twice.
 */
export async function attachEngine(engine: DetectEngine, store: Store): Promise<void> {
  if (engine.lastSeq === -1) engine.alerts.clear();
  let held: DurableRecord[] | null = [];
  store.onDurable((records) => {
    if (held) held.push(...records);
    else engine.feed(records);
  });
  const until = store.size;
  let chunk: FeedRecord[] = [];
  for await (const r of readLog(store.dataDir, { fromSeq: engine.lastSeq + 1, toSeq: until })) {
    chunk.push(r);
    if (chunk.length >= CHUNK) {
      engine.feed(chunk);
      chunk = [];
    }
  }
  engine.feed(chunk);
  const rest = held;
  held = null;
  engine.feed(rest);
}
