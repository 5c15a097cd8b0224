/**
 * Pacing for work on the daemon's main thread that reads through a long stretch of the log
 * (detection catching up or rebuilding): it feeds records in small slices and gives the event
 * loop a turn whenever a few milliseconds have passed, so the HTTP server answers meanwhile, and
 * it collects the young generation after a chunk once the process has grown by a few tens of
 * MiB since the last collection, so the chunks' garbage does not pile up beside the state being
 * built.
 *
 * Promises: every record is passed to `take` once, in order, until `take` returns false; at
 * most {@link TURN_MS} of feeding between two turns (a single slice excepted).
 */

import { collectGarbage } from "../store/collect.ts";

/** Records per call of `take`: a few ms of detection on a loaded machine. */
const SLICE = 256;
/** Longest the feeding keeps the event loop before giving it a turn, ms. */
const TURN_MS = 25;
/** Growth of resident memory since the last collection that calls for the next, bytes. */
const HEADROOM = 32 * 1024 * 1024;

/** Feeds chunks of records in turns, collecting their garbage as it goes. */
export class Pace {
  /** Resident memory after the last collection, bytes (0 before the first). */
  #after = 0;

  /**
   * Passes `records` to `take` a slice at a time, with turns of the event loop in between and
   * after; resolves false as soon as `take` or `goOn` says to stop.
   */
  async feed<T>(
    records: readonly T[],
    take: (slice: T[]) => boolean,
    goOn: () => boolean,
  ): Promise<boolean> {
    let since = performance.now();
    for (let i = 0; i < records.length; i += SLICE) {
      if (!take(records.slice(i, i + SLICE))) return false;
      if (performance.now() - since >= TURN_MS) {
        await turn();
        if (!goOn()) return false;
        since = performance.now();
      }
    }
    this.#collect();
    await turn();
    return goOn();
  }

  /**
   * Decoded events and the buffers read die young, but V8 undercounts the buffers' native
   * memory and leaves them to pile up (a detection rebuild at 200k events: 608 MiB high-water
   * without collections, 265 MiB with one after every chunk, at twice the time). So one is made
   * when the process has grown by {@link HEADROOM} since the last: memory, not a clock, decides.
   */
  #collect(): void {
    if (Deno.memoryUsage().rss < this.#after + HEADROOM) return;
    collectGarbage({ young: true });
    this.#after = Deno.memoryUsage().rss;
  }
}

function turn(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}
