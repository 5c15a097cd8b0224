/**
 * A Worker that runs one full verification (`verifyStore`) for the daemon's background check,
 * so that its own work — reading segments, building the Merkle tree, checking the node files —
 * never holds up the event loop that collects, stores and serves. `verifyStore` still checks
 * records on its two Workers of its own; this one only keeps the rest off the main thread.
 * One message in (the data directory), one out (the report, or why it could not run).
 */

import { type VerifyReport, verifyStore } from "../store/verify.ts";

declare const self: {
  onmessage: ((e: MessageEvent<{ dataDir: string }>) => void) | null;
  postMessage(msg: { report?: VerifyReport; error?: string }): void;
};

self.onmessage = async (e): Promise<void> => {
  try {
    // A thread of its own: collecting after each segment keeps its memory flat (`collect.ts`).
    self.postMessage({ report: await verifyStore(e.data.dataDir, { collect: true }) });
  } catch (err) {
    self.postMessage({ error: String((err as Error)?.message ?? err) });
  }
};
