/**
 * Garbage collection on request, for threads that read through many large buffers and hold
 * little: verification, after each run of records (the young generation, where the decompressed
 * blocks die) and after each segment (the whole heap). Left to itself the collector sees a heap
 * of a few MiB beside tens of MiB of decompressed buffers a segment and frees them late, so a
 * verification's memory grew with the number of segments it checked (measured in a process of
 * its own: 279 / 432 / 501 MiB at 200k / 1M / 2M events; about 210 MiB at 2M with these
 * collections, at about twice the time on one core). It asks V8 to expose `gc` (the flag Node's
 * `--expose-gc` sets) and takes it from a fresh context.
 *
 * Promises: `collectGarbage()` never throws; where V8 does not let it collect, it does nothing.
 * On the daemon's main thread only where the pause is bounded and rare: detection's catch-up
 * (`detect/pace.ts`) collects the young generation when memory has grown, the whole heap at most
 * every few seconds while the process is over its memory budget, and once as it turns current; a
 * full collection at any time would pause the collection of events.
 */

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type Gc = (opts?: { type?: "minor" | "major" }) => void;
let gc: Gc | null | undefined;

/**
 * Runs a collection of this thread's heap, when V8 allows it: a full one, or with `young` only
 * the young generation, where short-lived buffers die (a millisecond instead of tens).
 */
export function collectGarbage(opts: { young?: boolean } = {}): void {
  if (gc === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      const f: unknown = runInNewContext("gc");
      gc = typeof f === "function" ? f as Gc : null;
    } catch {
      gc = null;
    }
  }
  try {
    gc?.(opts.young ? { type: "minor" } : undefined);
  } catch {
    // Nothing to do: the collector frees the memory later on its own.
  }
}
