/**
 * A Worker that runs `checkChunk` for `verifyStore` (decompressing a compressed segment's blocks
 * first), so verification uses both cores.
 */

import { collectGarbage } from "./collect.ts";
import type { ChunkResult, ChunkTask } from "./verify_chunk.ts";
import { checkTask, type PackedTask } from "./verify_packed.ts";

declare const self: {
  onmessage: ((e: MessageEvent<(ChunkTask | PackedTask) & { id: number }>) => void) | null;
  postMessage(
    msg: { id: number; result?: ChunkResult; error?: string },
    transfer?: ArrayBuffer[],
  ): void;
};

self.onmessage = (e): void => {
  const { id, ...task } = e.data;
  try {
    const result = checkTask(task);
    self.postMessage({ id, result }, [result.leaves.buffer as ArrayBuffer]);
  } catch (err) {
    self.postMessage({ id, error: String((err as Error)?.stack ?? err) });
  }
  // The run's decompressed blocks are garbage now, young: free them before the next run.
  collectGarbage({ young: true });
};
