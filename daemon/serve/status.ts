/**
 * What the running daemon knows about itself, as one read-only snapshot: the store (and whether
 * it is intact), every configured source, detection and the exporters. `/healthz`, `/metrics` and the Operator page
 * all read the same snapshot, so they never disagree; the supervisor, the store and detection
 * feed it.
 */

/** The lifecycle of one supervised source. */
export type SourceState = "starting" | "running" | "backoff" | "stopped";

/** One source as the supervisor sees it. */
export interface SourceStatus {
  readonly name: string;
  readonly type: string;
  readonly state: SourceState;
  /** True while the source's last run is up and has not failed since it started. */
  readonly healthy: boolean;
  /** How many times the supervisor restarted it after a failure. */
  readonly restarts: number;
  /** Events and bytes (canonical JSON) stored from it since the daemon started. */
  readonly events: number;
  readonly bytes: number;
  /** Failed runs since the daemon started. */
  readonly errors: number;
  /** Event time (µs UTC) of the newest event stored from it. */
  readonly lastEventTs: number | null;
  /** Wall time (ms) when its last batch became durable. */
  readonly lastStoredAt: number | null;
  readonly lastError:
    | { readonly message: string; readonly stage: string; readonly at: number }
    | null;
  /** Source-specific gauges (e.g. `lag_bytes`, `last_commit_age_seconds`), for metrics. */
  readonly gauges: Readonly<Record<string, number>>;
  /** What each gauge means, as its plugin declares it (`SourcePlugin.gauges`). */
  readonly gaugeHelp?: Readonly<Record<string, string>>;
}

/** The store part of the snapshot. */
export interface StoreStatus {
  readonly dataDir: string;
  /** Events in the log (next seq). */
  readonly size: number;
  /** Bytes of segments on disk. */
  readonly bytes: number;
  /** Free bytes on the data directory's file system. */
  readonly diskFreeBytes: number | null;
  /** Recent commit latencies (fsync included), seconds. */
  readonly commitSeconds: { readonly p50: number; readonly p99: number; readonly count: number };
  readonly lastCheckpoint: { readonly size: number; readonly time: string } | null;
  /** The last store failure (e.g. disk full) and when; cleared by a later good commit. */
  readonly lastError: { readonly message: string; readonly at: number } | null;
  /** Present when the daemon checks the store: its start checks and background verification. */
  readonly integrity?: IntegrityStatus;
  /**
   * Durable events the search index does not hold yet (searches read them from the log); present
   * when the daemon keeps an index.
   */
  readonly indexLag?: number;
}

/** One full verification of the store (`verifyStore`) run by the daemon. */
export interface VerificationResult {
  readonly ok: boolean;
  /** `start` (the run at start) or `daily`. */
  readonly trigger: string;
  /** Wall times (ms). */
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly events: number;
  readonly checkpoints: number;
  /** The first problem, with its place, in words; null when intact. */
  readonly problem: string | null;
}

/**
 * Whether the store on disk is what was written, as `daemon/serve/integrity.ts` reports it:
 * the cheap checks at start, then full verifications in the background. Unhealthy from the
 * first damage found until the daemon restarts: damage does not mend itself.
 */
export interface IntegrityStatus {
  /** `checked` (start checks passed, no full verification yet), `verifying`, `intact`, `damaged`. */
  readonly state: "checked" | "verifying" | "intact" | "damaged";
  readonly healthy: boolean;
  /** The first damage found since start, in words (where and what); null while none. */
  readonly problem: string | null;
  readonly startCheck: {
    readonly ok: boolean;
    /** Wall time (ms) and how long it took (s). */
    readonly at: number;
    readonly seconds: number;
    readonly segments: number;
    readonly problem: string | null;
  };
  readonly lastVerification: VerificationResult | null;
  /**
   * `[store] checkpoint_copy`, when set: the size of the last checkpoint copied there, and why
   * the last copy failed (unhealthy until one succeeds), or null.
   */
  readonly checkpointCopy?: {
    readonly path: string;
    readonly lastSize: number | null;
    readonly error: string | null;
  };
  /** The run in progress, if any. */
  readonly verifying: { readonly since: number; readonly trigger: string } | null;
  /** Wall time (ms) of the next scheduled run, null while one runs or after stop. */
  readonly nextAt: number | null;
  /** Finished verifications since start, by outcome. */
  readonly runs: { readonly intact: number; readonly damaged: number };
}

/**
 * Detection's part, as `daemon/detect/live.ts` reports it: loading, catching up or rebuilding
 * its state from the log (with progress), running, or failed. Unhealthy when the engine or a
 * detector stopped; a rebuild is healthy (the daemon collects meanwhile) and says so.
 */
export interface DetectionStatus {
  readonly state: string;
  readonly healthy: boolean;
  /** The last seq detection took in. */
  readonly seq: number;
  /** Durable events it has not taken in yet. */
  readonly behind: number;
  /** Share done of a catch-up or rebuild (0…1), else null. */
  readonly progress: number | null;
  /** Why the state is being rebuilt, if it is. */
  readonly reason: string | null;
  /** What a held catch-up waits for (a verification, a download), if it is held. */
  readonly waiting?: string | null;
  /** Events read from the log since start. */
  readonly read: number;
  readonly snapshot: { readonly seq: number; readonly at: number } | null;
  readonly errors: readonly string[];
}

/** The whole snapshot. */
export interface ServeStatus {
  readonly version: string;
  /** Wall time (ms) the daemon started. */
  readonly startedAt: number;
  readonly healthy: boolean;
  readonly store: StoreStatus;
  readonly sources: readonly SourceStatus[];
  /** Present when the daemon runs detection. */
  readonly detection?: DetectionStatus;
}

/** One sample of a source's throughput and lag, for the Operator charts. */
export interface StatusSample {
  /** Wall time (ms) at the end of the sample's interval. */
  readonly at: number;
  readonly eventsPerSecond: number;
  readonly lagBytes: number | null;
}

/** Where the web UI and the HTTP endpoints read the daemon's state from. */
export interface StatusProvider {
  current(): ServeStatus;
  /** Samples of the last hour (10 s each) or day (5 min each), oldest first. */
  series(source: string, window: "hour" | "day"): readonly StatusSample[];
}
