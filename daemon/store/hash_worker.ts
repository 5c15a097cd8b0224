/**
 * The store's second core: a Worker that runs `HashState` for the write path, so that hashing
 * and the Merkle node files (three SHA-256 calls per event) overlap with framing and fsync on
 * the main thread. Requests are handled strictly in order; frames arrive in shared memory and
 * are hashed in place. Groups the store sealed itself arrive as their leaves (`sealed`), and
 * those and the commits that need no answer come several to a message (`batch`).
 */

import { HashState } from "./hash_state.ts";
import type { TailState } from "./merkle_levels.ts";

/** Requests to the worker. */
export type HashRequest =
  | { op: "open"; id: number; dataDir: string; chain: Uint8Array; tail: TailState }
  | { op: "hash"; id: number; buf: Uint8Array; frames: Int32Array; count: number }
  | { op: "sealed"; leaves: Uint8Array; count: number; chain: Uint8Array }
  | { op: "commit" }
  | { op: "batch"; ops: HashRequest[] }
  | { op: "reset"; chain: Uint8Array }
  | { op: "root"; id: number; size: number; sync: boolean }
  | { op: "close"; id: number };

/** Replies: the chain after a hashed group, a root, or an error. */
export interface HashReply {
  id: number;
  chain?: Uint8Array;
  root?: Uint8Array;
  error?: string;
}

declare const self: {
  onmessage: ((e: MessageEvent<HashRequest>) => void) | null;
  postMessage(msg: HashReply): void;
  close(): void;
};

let state: HashState | null = null;
let queue: Promise<void> = Promise.resolve();

async function handle(msg: HashRequest): Promise<void> {
  try {
    switch (msg.op) {
      case "open":
        state = await HashState.open(msg.dataDir, msg.chain, msg.tail);
        self.postMessage({ id: msg.id });
        return;
      case "hash":
        self.postMessage({ id: msg.id, chain: state!.hash(msg.buf, msg.frames, msg.count) });
        return;
      case "sealed":
        state!.sealed(msg.leaves, msg.count, msg.chain);
        return;
      case "commit":
        state!.commit();
        return;
      case "batch":
        for (const op of msg.ops) await handle(op);
        return;
      case "reset":
        state!.reset(msg.chain);
        return;
      case "root":
        self.postMessage({ id: msg.id, root: await state!.root(msg.size, msg.sync) });
        return;
      case "close":
        state?.close();
        state = null;
        self.postMessage({ id: msg.id });
        self.close();
        return;
    }
  } catch (e) {
    if ("id" in msg) self.postMessage({ id: msg.id, error: String((e as Error)?.stack ?? e) });
    else throw e;
  }
}

self.onmessage = (e): void => {
  queue = queue.then(() => handle(e.data));
};
