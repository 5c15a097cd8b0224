/**
 * The log's events of a seq range in batches for the index's writer, read on a Worker
 * (`log_batches_worker.ts`): reading, decompressing and parsing the log and folding the text
 * take as long as SQLite's inserts of the same events, so on a Worker they run beside them, on
 * the other core, instead of before them. Same batches, same order, as `SeqReader.scan`; each
 * record carries its folded text (`IndexRecord.text`). Memory is a few batches in flight.
 */

import type { IndexRecord } from "./event_index.ts";
import type { BatchMessage, BatchRequest } from "./log_batches_worker.ts";

/** Batches the Worker reads ahead of the writer. */
const AHEAD = 3;

/**
 * The events with seq in [from, to) that the log of `dataDir` holds, in ascending batches of
 * about `chunk`. Breaking out of the loop ends the Worker.
 */
export async function* logBatches(
  dataDir: string,
  from: number,
  to: number,
  chunk: number,
): AsyncGenerator<IndexRecord[]> {
  const worker = new Worker(new URL("./log_batches_worker.ts", import.meta.url).href, {
    type: "module",
  });
  const got: BatchMessage[] = [];
  let wake: (() => void) | null = null;
  const arrive = (m: BatchMessage): void => {
    got.push(m);
    const w = wake;
    wake = null;
    w?.();
  };
  worker.onmessage = (e: MessageEvent<BatchMessage>) => arrive(e.data);
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    arrive({ type: "error", error: e.message });
  };
  const ask = (req: BatchRequest): void => worker.postMessage(req);
  try {
    ask({ type: "read", dataDir, from, to, chunk, ahead: AHEAD });
    for (;;) {
      while (got.length === 0) await new Promise<void>((r) => wake = r);
      const m = got.shift()!;
      if (m.type === "done") return;
      if (m.type === "error") {
        throw new Error(`Cannot read seqs ${from}..${to - 1} of ${dataDir}: ${m.error}`);
      }
      ask({ type: "more" });
      yield m.records;
    }
  } finally {
    worker.terminate();
  }
}
