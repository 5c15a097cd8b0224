/**
 * Runs every configured source into the store, each on its own: a source that fails is
 * restarted after a jittered exponential backoff (so that many appliances do not hammer a
 * recovering server in step) without stopping the others. A run that lasted a while resets the
 * backoff. A reload stops the sources that were removed or changed and starts the new ones;
 * unchanged ones keep running.
 */

import { log } from "../log.ts";
import { runSource } from "../pipeline.ts";
import { orphanSpools } from "../spool/mod.ts";
import { type GaugeSpec, type Source, SourceError } from "../source.ts";
import type { Store } from "../store/store.ts";
import type { StatusBoard } from "./status_board.ts";

/** One source as configured: a factory, since each (re)start builds a fresh instance. */
export interface SupervisedSource {
  readonly name: string;
  readonly type: string;
  /** Identity of the configuration: a changed key means a restart on reload. */
  readonly fingerprint: string;
  create(): Source;
  /** The gauges its plugin declares: their help text in `/metrics`. */
  readonly gauges?: readonly GaugeSpec[];
}

/** Backoff settings; the defaults suit a database that restarts within a minute. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** A run longer than this resets the backoff to `initialMs`. */
  resetAfterMs: number;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  initialMs: 500,
  maxMs: 60_000,
  resetAfterMs: 60_000,
};

interface Running {
  spec: SupervisedSource;
  abort: AbortController;
  done: Promise<void>;
}

/** Supervises the sources of one store. */
export class Supervisor {
  readonly #store: Store;
  readonly #board: StatusBoard;
  readonly #backoff: BackoffOptions;
  readonly #running = new Map<string, Running>();

  constructor(store: Store, board: StatusBoard, backoff: BackoffOptions = DEFAULT_BACKOFF) {
    this.#store = store;
    this.#board = board;
    this.#backoff = backoff;
  }

  /** Makes the running set equal `specs`: stops removed and changed sources, starts new ones. */
  async apply(specs: readonly SupervisedSource[]): Promise<void> {
    const wanted = new Map(specs.map((s) => [s.name, s]));
    const stopping: Promise<void>[] = [];
    for (const [name, r] of this.#running) {
      const next = wanted.get(name);
      if (next === undefined || next.fingerprint !== r.spec.fingerprint) {
        stopping.push(this.#stop(name, next === undefined));
      }
    }
    await Promise.all(stopping);
    for (const spec of specs) {
      if (!this.#running.has(spec.name)) this.#start(spec);
    }
    // A source removed after a crash leaves what its spool synced unstored: say so, loudly.
    const root = `${this.#store.dataDir}/spool`;
    orphanSpools(root, wanted.keys()).then(
      (left) => {
        for (const name of left) {
          log("warn", "spool of a source no longer configured holds events not yet stored", {
            source: name,
            dir: `${root}/${name}`,
            fix: "configure a source of that name again (same type); its next start stores them",
          });
        }
      },
      (error) =>
        log("warn", "cannot read the spool directory", { dir: root, error: String(error) }),
    );
  }

  /** Stops every source and waits for each to return (their last batches stored). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#running.keys()].map((n) => this.#stop(n, false)));
  }

  async #stop(name: string, forget: boolean): Promise<void> {
    const r = this.#running.get(name);
    if (r === undefined) return;
    r.abort.abort();
    await r.done;
    this.#running.delete(name);
    this.#board.stopped(name);
    if (forget) this.#board.remove(name);
  }

  #start(spec: SupervisedSource): void {
    this.#board.add(spec.name, spec.type, spec.gauges);
    const abort = new AbortController();
    const done = this.#loop(spec, abort.signal);
    this.#running.set(spec.name, { spec, abort, done });
  }

  async #loop(spec: SupervisedSource, signal: AbortSignal): Promise<void> {
    const { initialMs, maxMs, resetAfterMs } = this.#backoff;
    const random = this.#backoff.random ?? Math.random;
    let delay = initialMs;
    while (!signal.aborted) {
      const started = performance.now();
      this.#board.running(spec.name);
      try {
        await runSource(this.#store, spec.create(), {
          name: spec.name,
          signal,
          gauge: (g, v) => this.#board.gauge(spec.name, g, v),
          spoolDir: `${this.#store.dataDir}/spool/${spec.name}`,
        });
        if (signal.aborted) break;
        throw new SourceError("receive", "the source stopped on its own");
      } catch (error) {
        if (signal.aborted) break;
        const stage = error instanceof SourceError ? error.stage : "receive";
        this.#board.failed(spec.name, error, stage);
        if (performance.now() - started > resetAfterMs) delay = initialMs;
        // Full jitter around the current step: between half and all of it.
        const wait = Math.round(delay * (0.5 + random() / 2));
        log("warn", "source failed; restarting after backoff", {
          source: spec.name,
          type: spec.type,
          stage,
          error: error instanceof Error ? error.message : String(error),
          retry_in_ms: wait,
        });
        this.#board.backoff(spec.name);
        await sleep(wait, signal);
        delay = Math.min(maxMs, delay * 2);
      }
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
