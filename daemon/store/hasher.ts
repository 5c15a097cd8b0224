/**
 * The write path's handle on hashing: in a Worker (the default: hashing then uses the second
 * core) or inline on the calling thread (for short-lived processes and tests that open a store
 * thousands of times, where a Worker's start-up would dominate). Both run `HashState`.
 */

import { HashState } from "./hash_state.ts";
import type { HashReply, HashRequest } from "./hash_worker.ts";
import type { TailState } from "./merkle_levels.ts";

/** Hashing and Merkle node files for the write path. */
export interface Hasher {
  /** Fills in chains and CRCs of a framed group; resolves with the chain after it. */
  hash(buf: Uint8Array, frames: Int32Array, count: number): Promise<Uint8Array>;
  /** The oldest hashed group is durable. */
  commit(): void;
  /** Drops groups not yet committed and continues from `chain`. */
  reset(chain: Uint8Array): void;
  /** Merkle root of the first `size` committed leaves. */
  root(size: number, opts?: { sync?: boolean }): Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * Starts hashing for the node files of `dataDir` (in step with the log but for `tail`, the last
 * incomplete block) at chain head `chain`.
 */
export async function startHasher(
  dataDir: string,
  chain: Uint8Array,
  opts: { worker: boolean; tail: TailState },
): Promise<Hasher> {
  if (!opts.worker) return new InlineHasher(await HashState.open(dataDir, chain, opts.tail));
  const h = new WorkerHasher();
  try {
    await h.call({ op: "open", id: 0, dataDir, chain, tail: opts.tail });
  } catch (e) {
    await h.close();
    throw e;
  }
  return h;
}

class InlineHasher implements Hasher {
  #state: HashState;
  constructor(state: HashState) {
    this.#state = state;
  }
  hash(buf: Uint8Array, frames: Int32Array, count: number): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.#state.hash(buf, frames, count));
    } catch (e) {
      return Promise.reject(e);
    }
  }
  commit(): void {
    this.#state.commit();
  }
  reset(chain: Uint8Array): void {
    this.#state.reset(chain);
  }
  root(size: number, opts: { sync?: boolean } = {}): Promise<Uint8Array> {
    return this.#state.root(size, opts.sync ?? false);
  }
  close(): Promise<void> {
    this.#state.close();
    return Promise.resolve();
  }
}

type Call = HashRequest & { id: number };

class WorkerHasher implements Hasher {
  #worker: Worker;
  #next = 1;
  #pending = new Map<number, { resolve: (r: HashReply) => void; reject: (e: Error) => void }>();
  #failed: Error | null = null;

  constructor() {
    this.#worker = new Worker(new URL("./hash_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#worker.onmessage = (e: MessageEvent<HashReply>): void => {
      const p = this.#pending.get(e.data.id);
      if (!p) return;
      this.#pending.delete(e.data.id);
      if (e.data.error) p.reject(new Error(`hash worker: ${e.data.error}`));
      else p.resolve(e.data);
    };
    this.#worker.onerror = (e: ErrorEvent): void => {
      e.preventDefault();
      this.#failed = new Error(`hash worker failed: ${e.message}`);
      for (const p of this.#pending.values()) p.reject(this.#failed);
      this.#pending.clear();
    };
  }

  call(req: Call): Promise<HashReply> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...req, id });
    });
  }

  async hash(buf: Uint8Array, frames: Int32Array, count: number): Promise<Uint8Array> {
    return (await this.call({ op: "hash", id: 0, buf, frames, count })).chain!;
  }
  commit(): void {
    if (!this.#failed) this.#worker.postMessage({ op: "commit" } satisfies HashRequest);
  }
  reset(chain: Uint8Array): void {
    if (!this.#failed) this.#worker.postMessage({ op: "reset", chain } satisfies HashRequest);
  }
  async root(size: number, opts: { sync?: boolean } = {}): Promise<Uint8Array> {
    return (await this.call({ op: "root", id: 0, size, sync: opts.sync ?? false })).root!;
  }
  async close(): Promise<void> {
    try {
      if (!this.#failed) await this.call({ op: "close", id: 0 });
    } finally {
      this.#worker.terminate();
    }
  }
}
