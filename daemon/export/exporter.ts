/**
 * The exporter: runs every configured target on its interval and on demand, one run at a time
 * per data directory (they share the journal), and keeps each target's state as a plain object
 * for the status page, metrics and the CLI. A failed run is logged and kept in the state; the
 * next one, on the interval or asked for, resumes it from the journal.
 *
 * @example
 * const exporter = new Exporter(dataDir, targets);
 * exporter.start();               // in `vigil serve`
 * await exporter.runNow("archive"); // on demand
 * exporter.status();              // { targets: [{ name, state, exportedEnd, progress, … }] }
 */

import { log } from "../log.ts";
import { exportedEnd, ExportJournal, readJournal } from "./journal.ts";
import { exportToTarget, type RunProgress, type RunResult } from "./run_target.ts";
import type { Sink } from "./sink.ts";
import { type ExportTarget, openSink } from "./target.ts";

/** One target's state. */
export interface TargetStatus {
  name: string;
  type: "dir" | "s3";
  location: string | null;
  state: "idle" | "running" | "failed";
  /** Seq up to which the target holds every event (exclusive). */
  exportedEnd: number;
  /** µs since the epoch. */
  lastRunAt: number | null;
  lastSuccessAt: number | null;
  nextRunAt: number | null;
  lastError: string | null;
  progress: RunProgress | null;
}

/** Runs export targets for one data directory. */
export class Exporter {
  readonly #dataDir: string;
  readonly #targets: ExportTarget[];
  readonly #status = new Map<string, TargetStatus>();
  readonly #sinks = new Map<string, Sink>();
  readonly #onProgress: ((p: RunProgress) => void) | undefined;
  readonly #onRun: ((run: Promise<unknown>) => void) | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #abort = new AbortController();
  #started = false;

  constructor(
    dataDir: string,
    targets: ExportTarget[],
    opts: {
      onProgress?: (p: RunProgress) => void;
      /** Given each run as it begins (after any before it), ending with it. */
      onRun?: (run: Promise<unknown>) => void;
      sinks?: Map<string, Sink>;
    } = {},
  ) {
    this.#dataDir = dataDir;
    this.#targets = targets;
    this.#onProgress = opts.onProgress;
    this.#onRun = opts.onRun;
    for (const [k, v] of opts.sinks ?? []) this.#sinks.set(k, v);
    for (const t of targets) {
      this.#status.set(t.name, {
        name: t.name,
        type: t.type,
        location: this.#sinks.get(t.name)?.location ?? null,
        state: "idle",
        exportedEnd: 0,
        lastRunAt: null,
        lastSuccessAt: null,
        nextRunAt: null,
        lastError: null,
        progress: null,
      });
    }
  }

  /** Every target's state: a copy, safe to serialise. */
  status(): { targets: TargetStatus[] } {
    return { targets: [...this.#status.values()].map((s) => structuredClone(s)) };
  }

  /** Reads what the journal says each target holds (for status before the first run). */
  async load(): Promise<void> {
    const records = await readJournal(this.#dataDir);
    for (const s of this.#status.values()) s.exportedEnd = exportedEnd(records, s.name);
  }

  /**
   * Runs one target (or all, in config order) now, after any run in progress. Resolves with the
   * results; a failure is thrown after the other targets had their turn.
   */
  runNow(name?: string): Promise<Map<string, RunResult>> {
    const targets = name === undefined
      ? this.#targets
      : this.#targets.filter((t) => t.name === name);
    if (name !== undefined && targets.length === 0) {
      return Promise.reject(new TypeError(`no export target named ${JSON.stringify(name)}`));
    }
    const run = this.#queue.then(() => {
      const r = this.#run(targets);
      this.#onRun?.(r);
      return r;
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  async #run(targets: ExportTarget[]): Promise<Map<string, RunResult>> {
    const results = new Map<string, RunResult>();
    const errors: string[] = [];
    const journal = await ExportJournal.open(this.#dataDir);
    try {
      for (const t of targets) {
        const s = this.#status.get(t.name)!;
        s.state = "running";
        s.lastRunAt = Date.now() * 1000;
        try {
          const sink = this.#sink(t);
          s.location = sink.location;
          const r = await exportToTarget(this.#dataDir, sink, journal, {
            signal: this.#abort.signal,
            onProgress: (p) => {
              s.progress = p;
              this.#onProgress?.(p);
            },
          });
          results.set(t.name, r);
          s.state = "idle";
          s.exportedEnd = r.exportedEnd;
          s.lastSuccessAt = Date.now() * 1000;
          s.lastError = null;
        } catch (e) {
          s.state = "failed";
          s.lastError = (e as Error)?.message ?? String(e);
          errors.push(`${t.name}: ${s.lastError}`);
          log("error", "export failed; the next run resumes it", {
            target: t.name,
            error: s.lastError,
          });
        }
      }
    } finally {
      journal.close();
    }
    if (errors.length > 0) throw new Error(`Export failed for ${errors.join("; ")}`);
    return results;
  }

  #sink(t: ExportTarget): Sink {
    let sink = this.#sinks.get(t.name);
    if (!sink) this.#sinks.set(t.name, sink = openSink(t));
    return sink;
  }

  /** Runs each target at once, then every `interval` after its run ends. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const t of this.#targets) this.#schedule(t, 0);
  }

  #schedule(t: ExportTarget, delayMs: number): void {
    const s = this.#status.get(t.name)!;
    s.nextRunAt = (Date.now() + delayMs) * 1000;
    this.#timers.set(
      t.name,
      setTimeout(() => {
        this.runNow(t.name).catch(() => {}) // logged and kept in the status
          .finally(() => {
            if (this.#started) this.#schedule(t, t.intervalMs);
          });
      }, delayMs),
    );
  }

  /** Stops the schedule, cancels a run in flight (the journal keeps its place) and waits. */
  async stop(): Promise<void> {
    this.#started = false;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#abort.abort(new Error("exporter stopped"));
    await this.#queue;
    this.#abort = new AbortController();
  }
}
