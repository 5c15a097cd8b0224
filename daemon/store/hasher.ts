/**
 * The write path's handle on hashing: in a Worker (the default: hashing then uses the second
 * core) or inline on the calling thread (for short-lived processes and tests that open a store
 * thousands of times, where a Worker's start-up would dominate). Both run `HashState`. With the
 * Worker, a small group is sealed on the calling thread instead when nothing is being hashed
 * there, and its leaves go to the Worker with the commits, several to a message.
 */

import { FRAME_OVERHEAD } from "./frame.ts";
import { HashState, sealFrames } from "./hash_state.ts";
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
  const h = new WorkerHasher(chain);
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

/**
 * Groups of at most this many frames are sealed on the store's thread when no group is being
 * hashed on the worker. Such a group (a waiting client's statement or two, in enforce mode)
 * costs microseconds to hash, and a round trip to the worker costs two wake-ups across threads
 * and a turn of each thread's event loop, several times more CPU than the hashing.
 */
const INLINE_FRAMES = 64;
/** ... and of at most this many bytes: a few long statements would hold the thread up. */
const INLINE_BYTES = 64 * 1024;

/** Leaves and commits for the worker wait at most this long for a message to share. */
const DEFER_MS = 50;

/** Bytes of `buf` that the first `count` frames take. */
function framedBytes(buf: Uint8Array, frames: Int32Array, count: number): number {
  if (count === 0) return 0;
  const last = frames[count - 1]!;
  return last + FRAME_OVERHEAD + new DataView(buf.buffer, buf.byteOffset).getUint32(last);
}

class WorkerHasher implements Hasher {
  #worker: Worker;
  #next = 1;
  #pending = new Map<number, { resolve: (r: HashReply) => void; reject: (e: Error) => void }>();
  #failed: Error | null = null;
  /** The chain head after the last group hashed: current while `#hashing` is 0. */
  #chain: Uint8Array;
  /** Groups sent to the worker to hash whose answer has not come yet. */
  #hashing = 0;
  /** Messages that need no answer, in order, waiting to be posted as one `batch`. */
  #deferred: HashRequest[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(chain: Uint8Array) {
    this.#chain = chain.slice();
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
      this.#deferred = [];
    };
  }

  call(req: Call): Promise<HashReply> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#post({ ...req, id });
    });
  }

  /** Posts `msg` after whatever was deferred, so that the worker sees everything in order. */
  #post(msg: HashRequest | Call): void {
    this.#flush();
    this.#worker.postMessage(msg);
  }

  #defer(msg: HashRequest): void {
    this.#deferred.push(msg);
    if (this.#timer === undefined) {
      const timer = this.#timer = setTimeout(() => this.#flush(), DEFER_MS);
      Deno.unrefTimer(timer);
    }
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#deferred.length === 0 || this.#failed) return;
    const ops = this.#deferred;
    this.#deferred = [];
    this.#worker.postMessage({ op: "batch", ops } satisfies HashRequest);
  }

  async hash(buf: Uint8Array, frames: Int32Array, count: number): Promise<Uint8Array> {
    if (this.#failed) throw this.#failed;
    if (
      this.#hashing === 0 && count <= INLINE_FRAMES &&
      framedBytes(buf, frames, count) <= INLINE_BYTES
    ) {
      const leaves = new Uint8Array(count * 32);
      const n = sealFrames(buf, frames, count, this.#chain, leaves);
      const chain = this.#chain.slice();
      this.#defer({ op: "sealed", leaves: leaves.subarray(0, n * 32), count: n, chain });
      return chain;
    }
    this.#hashing++;
    try {
      const chain = (await this.call({ op: "hash", id: 0, buf, frames, count })).chain!;
      // Answers come in order: the last one is the head the next inline group starts from.
      this.#chain.set(chain);
      return chain;
    } finally {
      this.#hashing--;
    }
  }
  commit(): void {
    if (!this.#failed) this.#defer({ op: "commit" });
  }
  reset(chain: Uint8Array): void {
    this.#chain.set(chain);
    if (!this.#failed) this.#post({ op: "reset", chain });
  }
  async root(size: number, opts: { sync?: boolean } = {}): Promise<Uint8Array> {
    return (await this.call({ op: "root", id: 0, size, sync: opts.sync ?? false })).root!;
  }
  async close(): Promise<void> {
    try {
      if (!this.#failed) await this.call({ op: "close", id: 0 });
    } finally {
      clearTimeout(this.#timer);
      this.#worker.terminate();
    }
  }
}
