/**
 * What the web UI needs from the running daemon, as one object that `vigil serve` builds. The
 * alert store and the export targets are optional: the pages say "not configured" without them.
 * The two small interfaces below are what the UI reads from them; the detection engine and the
 * exporters adapt to these.
 */

import type { AccessStore } from "../daemon/access/mod.ts";
import type { EventIndex } from "../daemon/index/event_index.ts";
import type { StatusProvider } from "../daemon/serve/status.ts";
import type { Store } from "../daemon/store/store.ts";

/**
 * One alert of the detection engine, as the UI shows it: a structural subset of
 * `daemon/detect`'s `Alert`, so the engine's alerts pass as they are.
 */
export interface Alert {
  readonly id: number;
  /** Event time span that raised it, µs since the epoch (UTC). */
  readonly ts_from: number;
  readonly ts_to: number;
  readonly rule: string;
  /** e.g. low, medium, high, critical. */
  readonly severity: string;
  readonly role: string;
  readonly client_addr?: string;
  readonly db?: string;
  readonly score: number;
  readonly reason: string;
  /** Seqs of the events behind it. */
  readonly seqs: readonly number[];
  /** Who acknowledged it, why, and when (µs); absent while open. */
  readonly ack?: { readonly by: string; readonly note: string; readonly ts: number };
}

/**
 * The alerts the Operator and Management pages read and acknowledge. With the detection
 * engine: `{ list: (f) => engine.list(f), get: (id) => engine.alerts.get(id),
 * ack: (id, by, note) => engine.ack(id, by, note, store) }`.
 */
export interface AlertStore {
  /**
   * Alerts newest first: only unacknowledged ones with `acked: false`; with `from`/`to` (µs,
   * event time) those whose span ends at or after `from` and starts before `to`.
   */
  list(
    filter: { acked?: boolean; from?: number; to?: number; limit?: number },
  ): readonly Alert[] | Promise<readonly Alert[]>;
  get(id: number): Alert | undefined | Promise<Alert | undefined>;
  /** Marks an alert reviewed by `by` (a UI user name) with a note. */
  ack(id: number, by: string, note: string): Promise<unknown>;
}

/**
 * One export target as the Management page shows it: a structural subset of
 * `daemon/export`'s `TargetStatus`.
 */
export interface ExportTargetState {
  readonly name: string;
  /** dir | s3 | … */
  readonly type: string;
  /** Where it writes (a directory, a bucket URL), when known. */
  readonly location: string | null;
  /** idle | running | failed | … */
  readonly state: string;
  /** Every event before this seq is exported. */
  readonly exportedEnd: number;
  /** Times in µs since the epoch. */
  readonly lastRunAt: number | null;
  readonly lastSuccessAt: number | null;
  readonly nextRunAt: number | null;
  readonly lastError: string | null;
}

/** The exporters' state; `daemon/export`'s `Exporter` fits as it is. */
export interface ExportsState {
  status(): { readonly targets: readonly ExportTargetState[] };
}

/** Everything the web app reads and writes. */
export interface WebDeps {
  /** The open store: UI audit events and posted application events are appended to it. */
  store: Store;
  /** The search index opened for reading, or null when there is none yet. */
  index: EventIndex | null;
  status: StatusProvider;
  access: AccessStore;
  /** True when served over HTTPS: cookies get Secure and HSTS is sent. */
  tls: boolean;
  /** Wall clock, ms; tests move it. */
  now?: () => number;
  /** How long a bundle download waits for a reader that takes nothing; default a minute. */
  downloadStallMs?: number;
  /**
   * Pauses the daemon's background readings of the log (detection catching up) until `until`
   * settles: a bundle download holds them while it writes the bundle, so that their memory
   * does not add up. Without it, nothing pauses.
   */
  holdBackground?: (until: Promise<unknown>, why: string) => void;
  alerts?: AlertStore;
  exports?: ExportsState;
  /**
   * The loaded configuration, shown read-only on the Administration page; a `VigilConfig`
   * (with `file` and `dataDir`) also makes its sources and export targets editable.
   */
  config?: unknown;
  /**
   * Re-reads the config file and `managed.toml` and applies the sources (as SIGHUP does);
   * false when the daemon refused the result. Called after the UI changed `managed.toml`.
   */
  reload?: () => Promise<boolean>;
}
