/**
 * Worker for concurrency_test.ts: owns the writing connection and adds batches with short
 * pauses, so that the test's reader in the main thread sees the index while it grows.
 */

import { EventIndex } from "../../../daemon/index/event_index.ts";
import { event, records } from "./_events.ts";

interface Job {
  path: string;
  batches: number;
  batchSize: number;
}

const self = globalThis as unknown as {
  onmessage: ((e: MessageEvent<Job>) => void) | null;
  postMessage(msg: unknown): void;
};

self.onmessage = async (e: MessageEvent<Job>): Promise<void> => {
  const { path, batches, batchSize } = e.data;
  try {
    const index = EventIndex.open(path);
    self.postMessage({ type: "ready" });
    for (let b = 0; b < batches; b++) {
      const evs = Array.from(
        { length: batchSize },
        (_, i) => event(b * batchSize + i, { statement: `insert into t values (${b})` }),
      );
      index.add(records(evs));
      await new Promise((r) => setTimeout(r, 2));
    }
    index.close();
    self.postMessage({ type: "done" });
  } catch (err) {
    self.postMessage({ type: "error", message: String(err) });
  }
};
