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

/** Bytes of records checked between two collections. */
const GC_BYTES = 128 * 1024 * 1024;
let checked = 0;

self.onmessage = (e): void => {
  const { id, ...task } = e.data;
  try {
    const result = checkTask(task);
    self.postMessage({ id, result }, [result.leaves.buffer as ArrayBuffer]);
  } catch (err) {
    self.postMessage({ id, error: String((err as Error)?.stack ?? err) });
  }
  // What the runs left is garbage now, young: freed once every GC_BYTES of records checked.
  // A collection after every run cost a fifth of verify's time on a store of 1M events, while
  // compressed blocks now decompress into one reused buffer and leave little behind.
  checked += task.end - task.start;
  if (checked >= GC_BYTES) {
    collectGarbage({ young: true });
    checked = 0;
  }
};
