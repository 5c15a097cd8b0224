/** A Worker that runs `checkChunk` for `verifyStore`, so verification uses both cores. */

import { checkChunk, type ChunkResult, type ChunkTask } from "./verify_chunk.ts";

declare const self: {
  onmessage: ((e: MessageEvent<ChunkTask & { id: number }>) => void) | null;
  postMessage(
    msg: { id: number; result?: ChunkResult; error?: string },
    transfer?: ArrayBuffer[],
  ): void;
};

self.onmessage = (e): void => {
  const { id, ...task } = e.data;
  try {
    const result = checkChunk(task);
    self.postMessage({ id, result }, [result.leaves.buffer as ArrayBuffer]);
  } catch (err) {
    self.postMessage({ id, error: String((err as Error)?.stack ?? err) });
  }
};
