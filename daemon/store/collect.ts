/**
 * A full garbage collection on request, for threads that read through many large buffers and
 * hold little: the verification Workers, each after a run of records. Their collector sees a
 * heap of a few MiB beside tens of MiB of decompressed buffers a segment, frees those late, and
 * their memory grew with the number of segments checked (measured: 262 MiB at 200k events,
 * 412 MiB at 2M; flat at ~300 MiB with a collection after each run). A collection of a heap
 * that small takes about a millisecond.
 *
 * Promises: `collectGarbage()` never throws; where V8 does not let it collect, it does nothing.
 * Not for the daemon's main thread: a full collection there pauses collection of events.
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
