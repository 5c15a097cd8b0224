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

/** One alert of the detection engine, as the UI shows it. */
export interface Alert {
  readonly id: string;
  /** Event time span that raised it, µs since the epoch (UTC). */
  readonly ts_from: number;
  readonly ts_to: number;
  readonly rule: string;
  /** e.g. low, medium, high, critical. */
  readonly severity: string;
  readonly role?: string | undefined;
  readonly client_addr?: string | undefined;
  readonly db?: string | undefined;
  readonly score?: number | undefined;
  readonly reason: string;
  /** Seqs of the events behind it. */
  readonly seqs: readonly number[];
  /** Who acknowledged it and when (wall time, ms); null while open. */
  readonly acked_by: string | null;
  readonly acked_at: number | null;
}

/** The alert store the Operator and Management pages read and acknowledge alerts in. */
export interface AlertStore {
  /**
   * Alerts newest first: only unacknowledged ones when `open`; with `from`/`to` (µs, event
   * time) those whose span overlaps [from, to).
   */
  list(q: { open?: boolean; from?: number; to?: number; limit?: number }): Promise<Alert[]>;
  get(id: string): Promise<Alert | null>;
  /** Marks an alert reviewed by `by` (a UI user name); acknowledging twice keeps the first. */
  ack(id: string, by: string): Promise<void>;
}

/** One export target as the Management page shows it. */
export interface ExportTargetState {
  readonly name: string;
  /** dir | s3 | … */
  readonly type: string;
  /** e.g. ok, failing, idle, running. */
  readonly state: string;
  /** Wall times, ms. */
  readonly lastRunAt: number | null;
  readonly lastSuccessAt: number | null;
  /** Every event up to this seq is exported (exclusive end), or null before the first run. */
  readonly exportedToSeq: number | null;
  readonly lastError: string | null;
}

/** The exporters' state. */
export interface ExportsState {
  targets(): readonly ExportTargetState[];
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
  alerts?: AlertStore;
  exports?: ExportsState;
  /** The loaded configuration, shown read-only on the Administration page. */
  config?: unknown;
}
