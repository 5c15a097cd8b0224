/**
 * Pacing for work on the daemon's main thread that reads through a long stretch of the log
 * (detection catching up or rebuilding): it feeds records in small slices and gives the event
 * loop a turn whenever a few milliseconds have passed, so the HTTP server answers meanwhile, and
 * it collects the young generation after a chunk once the process has grown by a few tens of
 * MiB since the last collection, so the chunks' garbage does not pile up beside the state being
 * built. Above a memory budget it collects the whole heap (at most every few seconds: the chunks'
 * garbage that outlived the young generation, which a small one promotes early) and leaves the
 * event loop to live intake for a moment before the next chunk: the catch-up slows, the
 * daemon's memory and its intake do not suffer for it.
 *
 * Promises: every record is passed to `take` once, in order, until `take` returns false; at
 * most {@link TURN_MS} of feeding between two turns (a single slice excepted).
 */

import { collectGarbage } from "../store/collect.ts";

/** Records per call of `take`: a few ms of detection on a loaded machine. */
const SLICE = 256;
/**
 * Longest the feeding keeps the event loop before giving it a turn, ms. A request waits up to this
 * at each of its awaits (its audit event's commit, its reads of the log): at 25 ms, with
 * detection catching up on a 100M store, `/healthz` took 49 ms at the median and a role + day
 * search through the events API 151–175 ms; at 5, 7.7 and 71–91 ms, detection's rate the same
 * (48.5k against 49.5k events/s).
 */
const TURN_MS = 5;
/** Growth of resident memory since the last collection that calls for the next, bytes. */
const HEADROOM = 32 * 1024 * 1024;
/** Resident memory above which a chunk ends with a full collection and a pause, bytes. */
export const PACE_BUDGET = 192 * 1024 * 1024;
/** Least time between two full collections, ms: each pauses the thread for tens of ms. */
const FULL_EVERY_MS = 5_000;
/** The pause after a chunk over the budget, ms: live batches and the index go first. */
const YIELD_MS = 20;

/** What a pace measures and does; the process's own by default. */
export interface PaceHooks {
  rss(): number;
  collect(opts: { young?: boolean }): void;
  now(): number;
}

const PROCESS: PaceHooks = {
  rss: () => Deno.memoryUsage().rss,
  collect: collectGarbage,
  now: () => performance.now(),
};

/** Feeds chunks of records in turns, collecting their garbage as it goes. */
export class Pace {
  readonly #hooks: PaceHooks;
  /** Resident memory after the last collection, bytes (0 before the first). */
  #after = 0;
  #lastFull = -Infinity;

  constructor(hooks: PaceHooks = PROCESS) {
    this.#hooks = hooks;
  }

  /**
   * Passes `records` to `take` a slice at a time, with turns of the event loop in between and
   * after; resolves false as soon as `take` or `goOn` says to stop.
   */
  async feed<T>(
    records: readonly T[],
    take: (slice: T[]) => boolean,
    goOn: () => boolean,
  ): Promise<boolean> {
    let since = this.#hooks.now();
    for (let i = 0; i < records.length; i += SLICE) {
      if (!take(records.slice(i, i + SLICE))) return false;
      if (this.#hooks.now() - since >= TURN_MS) {
        await turn();
        if (!goOn()) return false;
        since = this.#hooks.now();
      }
    }
    await turn(this.#collect() ? YIELD_MS : 0);
    return goOn();
  }

  /**
   * Decoded events and the buffers read die young, but V8 undercounts the buffers' native
   * memory and leaves them to pile up (a detection rebuild at 200k events: 608 MiB high-water
   * without collections, 265 MiB with one after every chunk, at twice the time). So one is made
   * when the process has grown by {@link HEADROOM} since the last: memory, not a clock, decides.
   * Over {@link PACE_BUDGET}, the whole heap; returns true then (the catch-up is to yield).
   */
  #collect(): boolean {
    const rss = this.#hooks.rss();
    if (rss > PACE_BUDGET) {
      const now = this.#hooks.now();
      if (now - this.#lastFull >= FULL_EVERY_MS) {
        this.#lastFull = now;
        this.#hooks.collect({});
        this.#after = this.#hooks.rss();
      }
      return true;
    }
    if (rss < this.#after + HEADROOM) return false;
    this.#hooks.collect({ young: true });
    this.#after = this.#hooks.rss();
    return false;
  }
}

function turn(ms = 0): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
