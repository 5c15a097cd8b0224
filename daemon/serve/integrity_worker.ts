/**
 * A Worker that runs one full verification (`verifyStore`) for the daemon's background check,
 * so that its own work — reading segments, building the Merkle tree, checking the node files —
 * never holds up the event loop that collects, stores and serves. Records are checked here too,
 * not on `verifyStore`'s own Workers: slower, on one core, with the least memory.
 * One message in (the data directory, and checkpoints kept outside it), one out (the report, or
 * why it could not run).
 */

import type { Checkpoint } from "../store/checkpoint.ts";
import { type VerifyReport, verifyStore } from "../store/verify.ts";

declare const self: {
  onmessage: ((e: MessageEvent<{ dataDir: string; trusted?: Checkpoint[] }>) => void) | null;
  postMessage(msg: { report?: VerifyReport; error?: string }): void;
};

self.onmessage = async (e): Promise<void> => {
  try {
    // In the background, memory counts more than speed: the records are checked on this thread
    // alone, a sixteenth of a segment at a time, one segment in hand (none read ahead),
    // collecting after each segment (`collect.ts`), so the run adds about as much memory as one
    // segment file whatever the store's size.
    const trusted = e.data.trusted;
    const report = await verifyStore(e.data.dataDir, {
      collect: true,
      workers: 0,
      readAhead: 0,
      ...(trusted ? { trusted } : {}),
    });
    self.postMessage({ report });
  } catch (err) {
    self.postMessage({ error: String((err as Error)?.message ?? err) });
  }
};
