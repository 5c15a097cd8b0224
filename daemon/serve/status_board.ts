/**
 * The daemon's live state, kept by the parts that know it: the store reports its commits and
 * write failures, the supervisor each source's lifecycle, the sources their gauges, durable
 * records their counts, and the store's checks whether it is intact. `current()` is a consistent snapshot for `/healthz`, `/metrics` and the
 * Operator page; `series()` keeps throughput and lag samples for the charts (10 s for the last
 * hour, 5 min for the last day), in memory: they are a view, not evidence.
 */

import { statfs } from "node:fs/promises";
import type { GaugeSpec } from "../source.ts";
import type { DurableRecord } from "../store/store.ts";
import type {
  DetectionStatus,
  IntegrityStatus,
  ServeStatus,
  SourceState,
  SourceStatus,
  StatusProvider,
  StatusSample,
} from "./status.ts";

const HOUR_STEP_MS = 10_000;
const DAY_STEP_MS = 300_000;
const LATENCY_WINDOW = 1024;

interface SourceEntry {
  name: string;
  type: string;
  state: SourceState;
  runStartedAt: number | null;
  failedSinceStart: boolean;
  restarts: number;
  events: number;
  bytes: number;
  errors: number;
  lastEventTs: number | null;
  lastStoredAt: number | null;
  lastError: { message: string; stage: string; at: number } | null;
  gauges: Record<string, number>;
  gaugeHelp: Record<string, string>;
  hour: StatusSample[];
  day: StatusSample[];
  sampledEvents: number;
  dayEvents: number;
  dayStartedAt: number;
}

/** What the store part of the board reads from outside; injected for tests. */
export interface BoardOptions {
  version: string;
  dataDir: string;
  now?: () => number;
  /** Sizes of the store's files; default: stats the segment directory. */
  storeBytes?: () => Promise<number>;
  /** The latest signed checkpoint's tree size and signing time (µs), if any. */
  checkpoint?: () => { size: number; ts: number } | null;
}

/** Keeps the live state; implements {@link StatusProvider}. */
export class StatusBoard implements StatusProvider {
  readonly #opts: BoardOptions;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #sources = new Map<string, SourceEntry>();
  readonly #latencies: number[] = [];
  #storeSize = 0;
  #storeBytes = 0;
  #diskFree: number | null = null;
  #storeError: { message: string; at: number } | null = null;
  #detection: (() => DetectionStatus) | null = null;
  #integrity: (() => IntegrityStatus) | null = null;
  #indexLag: (() => number) | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(opts: BoardOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#startedAt = this.#now();
  }

  /** Starts sampling every 10 s (and refreshing disk figures); `stop()` ends it. */
  start(): void {
    this.#timer ??= setInterval(() => void this.sample(), HOUR_STEP_MS);
    void this.refreshDisk();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  // --- fed by the store -------------------------------------------------------------------

  /** A group commit: its latency, and the store's new size. */
  committed(seconds: number, size: number): void {
    this.#latencies.push(seconds);
    if (this.#latencies.length > LATENCY_WINDOW) this.#latencies.shift();
    this.#storeSize = size;
    this.#storeError = null;
  }

  /** A group the store could not write (e.g. disk full). */
  storeFailed(error: unknown): void {
    this.#storeError = { message: errorText(error), at: this.#now() };
  }

  /** Durable records: counted per source (events, canonical JSON bytes, newest event time). */
  durable(records: readonly DurableRecord[]): void {
    const at = this.#now();
    for (const r of records) {
      const s = this.#sources.get(r.event.source);
      if (s === undefined) continue;
      s.events++;
      s.bytes += r.json.length;
      if (s.lastEventTs === null || r.event.ts > s.lastEventTs) s.lastEventTs = r.event.ts;
      s.lastStoredAt = at;
    }
    const last = records.at(-1);
    if (last !== undefined && last.seq + 1 > this.#storeSize) this.#storeSize = last.seq + 1;
  }

  // --- fed by the supervisor and the sources ------------------------------------------------

  /** Registers (or re-registers after a reload) a configured source, with its gauges' help. */
  add(name: string, type: string, gauges: readonly GaugeSpec[] = []): void {
    const old = this.#sources.get(name);
    if (old !== undefined && old.type === type) return;
    const at = this.#now();
    this.#sources.set(name, {
      name,
      type,
      state: "starting",
      runStartedAt: null,
      failedSinceStart: false,
      restarts: 0,
      events: 0,
      bytes: 0,
      errors: 0,
      lastEventTs: null,
      lastStoredAt: null,
      lastError: null,
      gauges: {},
      gaugeHelp: Object.fromEntries(gauges.map((g) => [g.name, g.help])),
      hour: [],
      day: [],
      sampledEvents: 0,
      dayEvents: 0,
      dayStartedAt: at,
    });
  }

  remove(name: string): void {
    this.#sources.delete(name);
  }

  running(name: string): void {
    const s = this.#sources.get(name);
    if (s === undefined) return;
    s.state = "running";
    s.runStartedAt = this.#now();
    s.failedSinceStart = false;
  }

  failed(name: string, error: unknown, stage: string): void {
    const s = this.#sources.get(name);
    if (s === undefined) return;
    s.errors++;
    s.failedSinceStart = true;
    s.lastError = { message: errorText(error), stage, at: this.#now() };
    s.gauges.connected = 0;
  }

  backoff(name: string): void {
    const s = this.#sources.get(name);
    if (s === undefined) return;
    s.state = "backoff";
    s.restarts++;
  }

  stopped(name: string): void {
    const s = this.#sources.get(name);
    if (s !== undefined) s.state = "stopped";
  }

  gauge(name: string, gauge: string, value: number): void {
    const s = this.#sources.get(name);
    if (s !== undefined && Number.isFinite(value)) s.gauges[gauge] = value;
  }

  // --- fed by detection --------------------------------------------------------------------

  /** Where detection's state is read from: its health counts in the daemon's. */
  watchDetection(status: () => DetectionStatus): void {
    this.#detection = status;
  }

  // --- fed by the store's checks -----------------------------------------------------------

  /** Where the store's start checks and background verification are read from (`integrity.ts`). */
  watchIntegrity(status: () => IntegrityStatus): void {
    this.#integrity = status;
  }

  // --- fed by the search index ------------------------------------------------------------

  /** Where the index's lag behind the log is read from (`index/feed.ts`). */
  watchIndex(lag: () => number): void {
    this.#indexLag = lag;
  }

  // --- read side ---------------------------------------------------------------------------

  current(): ServeStatus {
    const sources: SourceStatus[] = [...this.#sources.values()].map((s) => ({
      name: s.name,
      type: s.type,
      state: s.state,
      healthy: s.state === "running" && !s.failedSinceStart && s.gauges.connected !== 0,
      restarts: s.restarts,
      events: s.events,
      bytes: s.bytes,
      errors: s.errors,
      lastEventTs: s.lastEventTs,
      lastStoredAt: s.lastStoredAt,
      lastError: s.lastError,
      gauges: { ...s.gauges },
      gaugeHelp: s.gaugeHelp,
    }));
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    const q = (p: number): number =>
      sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
    const integrity = this.#integrity?.();
    const storeOk = this.#storeError === null && (integrity?.healthy ?? true);
    const cp = this.#opts.checkpoint?.() ?? null;
    const detection = this.#detection?.();
    return {
      version: this.#opts.version,
      startedAt: this.#startedAt,
      healthy: storeOk && sources.every((s) => s.healthy) && (detection?.healthy ?? true),
      store: {
        dataDir: this.#opts.dataDir,
        size: this.#storeSize,
        bytes: this.#storeBytes,
        diskFreeBytes: this.#diskFree,
        commitSeconds: { p50: q(0.5), p99: q(0.99), count: sorted.length },
        lastCheckpoint: cp === null
          ? null
          : { size: cp.size, time: new Date(Math.floor(cp.ts / 1000)).toISOString() },
        lastError: this.#storeError,
        ...(integrity === undefined ? {} : { integrity }),
        ...(this.#indexLag === null ? {} : { indexLag: this.#indexLag() }),
      },
      sources,
      ...(detection === undefined ? {} : { detection }),
    };
  }

  series(source: string, window: "hour" | "day"): readonly StatusSample[] {
    const s = this.#sources.get(source);
    if (s === undefined) return [];
    return [...(window === "hour" ? s.hour : s.day)];
  }

  /** Takes one 10 s sample of every source (the timer calls it; tests may too). */
  async sample(): Promise<void> {
    const at = this.#now();
    for (const s of this.#sources.values()) {
      const delta = s.events - s.sampledEvents;
      s.sampledEvents = s.events;
      const lag = s.gauges.lag_bytes ?? null;
      s.hour.push({ at, eventsPerSecond: delta / (HOUR_STEP_MS / 1000), lagBytes: lag });
      if (s.hour.length > 3600_000 / HOUR_STEP_MS) s.hour.shift();
      if (at - s.dayStartedAt >= DAY_STEP_MS) {
        const events = s.events - s.dayEvents;
        s.day.push({ at, eventsPerSecond: events / ((at - s.dayStartedAt) / 1000), lagBytes: lag });
        if (s.day.length > 86_400_000 / DAY_STEP_MS) s.day.shift();
        s.dayEvents = s.events;
        s.dayStartedAt = at;
      }
    }
    await this.refreshDisk();
  }

  /** Re-reads the store's size on disk and the free space of its file system. */
  async refreshDisk(): Promise<void> {
    try {
      this.#storeBytes = await (this.#opts.storeBytes?.() ?? dirBytes(this.#opts.dataDir));
      const fs = await statfs(this.#opts.dataDir);
      this.#diskFree = Number(fs.bavail) * Number(fs.bsize);
    } catch {
      // Figures for the dashboard only; the next sample tries again.
    }
  }
}

/** Total size of the regular files under `dir` (the store's segments, tree and index). */
async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) total += await dirBytes(path);
    else if (e.isFile) total += (await Deno.stat(path)).size;
  }
  return total;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
