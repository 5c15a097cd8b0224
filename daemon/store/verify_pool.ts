/**
 * Runs chunk checks for `verifyStore` on a small pool of Workers (segment bytes are shared, not
 * copied), or inline when there is too little to be worth a Worker's start-up. Each Worker
 * collects its garbage after each task (`verify_worker.ts`, `collect.ts`).
 */

import { collectGarbage } from "./collect.ts";
import type { ChunkResult, ChunkTask } from "./verify_chunk.ts";
import { checkTask, type PackedTask } from "./verify_packed.ts";

/** Runs chunk checks. */
export interface ChunkRunner {
  run(task: ChunkTask | PackedTask): Promise<ChunkResult>;
  close(): void;
}

/**
 * Checks chunks on the calling thread; with `collect`, collecting the garbage of each (its
 * decompressed blocks) before the next, as the Workers do (`collect.ts`).
 */
export function inlineRunner(opts: { collect?: boolean } = {}): ChunkRunner {
  return {
    run: (task) =>
      Promise.resolve().then(() => {
        const result = checkTask(task);
        if (opts.collect) collectGarbage({ young: true });
        return result;
      }),
    close: () => {},
  };
}

/** Checks chunks on `size` Workers, round robin. */
export function workerRunner(size: number): ChunkRunner {
  const workers: Worker[] = [];
  const pending = new Map<
    number,
    { resolve: (r: ChunkResult) => void; reject: (e: Error) => void }
  >();
  let next = 0;
  for (let i = 0; i < size; i++) {
    const w = new Worker(new URL("./verify_worker.ts", import.meta.url).href, { type: "module" });
    w.onmessage = (e: MessageEvent<{ id: number; result?: ChunkResult; error?: string }>) => {
      const p = pending.get(e.data.id);
      if (!p) return;
      pending.delete(e.data.id);
      if (e.data.error) p.reject(new Error(`verify worker: ${e.data.error}`));
      else p.resolve(e.data.result!);
    };
    w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      for (const p of pending.values()) p.reject(new Error(`verify worker failed: ${e.message}`));
      pending.clear();
    };
    workers.push(w);
  }
  return {
    run: (task) =>
      new Promise((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        workers[id % workers.length]!.postMessage({ ...task, id });
      }),
    close: () => {
      for (const w of workers) w.terminate();
    },
  };
}
