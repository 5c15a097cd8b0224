/**
 * Runs chunk checks for `verifyStore` on a small pool of Workers (segment bytes are shared, not
 * copied), or inline when there is too little to be worth a Worker's start-up.
 *
 * A Worker is retired after {@link RECYCLE_TASKS} tasks: it finishes what it was given, then is
 * terminated, and a fresh one takes the next tasks. Decompressing a segment's blocks leaves tens
 * of MiB of buffers a task that the Worker's collector, seeing a small heap, frees late or not
 * at all; ending the Worker frees them, so a verification's memory follows the segment size and
 * not the number of segments it checks.
 */

import type { ChunkResult, ChunkTask } from "./verify_chunk.ts";
import { checkTask, type PackedTask } from "./verify_packed.ts";

/** Tasks a Worker runs before it is replaced: two segments' worth (two tasks a segment each). */
export const RECYCLE_TASKS = 4;

/** Runs chunk checks. */
export interface ChunkRunner {
  run(task: ChunkTask | PackedTask): Promise<ChunkResult>;
  close(): void;
}

/** Checks chunks on the calling thread. */
export function inlineRunner(): ChunkRunner {
  return {
    run: (task) => Promise.resolve().then(() => checkTask(task)),
    close: () => {},
  };
}

type Pending = Map<number, { resolve: (r: ChunkResult) => void; reject: (e: Error) => void }>;

/** One Worker and what it was given. */
interface Slot {
  worker: Worker;
  pending: Pending;
  sent: number;
}

function startWorker(live: Set<Worker>): Slot {
  const pending: Pending = new Map();
  const worker = new Worker(new URL("./verify_worker.ts", import.meta.url).href, {
    type: "module",
  });
  live.add(worker);
  const slot: Slot = { worker, pending, sent: 0 };
  const retire = (): void => {
    worker.terminate();
    live.delete(worker);
  };
  worker.onmessage = (e: MessageEvent<{ id: number; result?: ChunkResult; error?: string }>) => {
    const p = pending.get(e.data.id);
    if (!p) return;
    pending.delete(e.data.id);
    if (e.data.error) p.reject(new Error(`verify worker: ${e.data.error}`));
    else p.resolve(e.data.result!);
    if (slot.sent >= RECYCLE_TASKS && pending.size === 0) retire();
  };
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    for (const p of pending.values()) p.reject(new Error(`verify worker failed: ${e.message}`));
    pending.clear();
  };
  return slot;
}

/** Checks chunks on `size` Workers, round robin, each replaced after RECYCLE_TASKS tasks. */
export function workerRunner(size: number): ChunkRunner {
  // Every Worker not terminated yet, retired ones finishing their tasks included.
  const live = new Set<Worker>();
  const slots: Slot[] = Array.from({ length: size }, () => startWorker(live));
  let next = 0;
  return {
    run: (task) =>
      new Promise((resolve, reject) => {
        const id = next++;
        const i = id % slots.length;
        // A retired Worker ends once its last result is in (see `onmessage`).
        if (slots[i]!.sent >= RECYCLE_TASKS) slots[i] = startWorker(live);
        const slot = slots[i]!;
        slot.sent++;
        slot.pending.set(id, { resolve, reject });
        slot.worker.postMessage({ ...task, id });
      }),
    close: () => {
      for (const w of live) w.terminate();
      live.clear();
    },
  };
}
