/**
 * The append-only store: segments of framed, chained records, a Merkle tree over them, and
 * signed checkpoints. `append()` resolves only after the batch is fsynced; appenders that
 * arrive while a write is in flight share the next fsync (group commit). Each batch may carry
 * its source's position, and `position()` reads the last durable one back after a restart —
 * the basis of exactly-once collection.
 */

import { canonicalJson } from "../event/canonical.ts";
import type { AuditEvent, NewEvent } from "../event/model.ts";
import { log } from "../log.ts";
import { type Checkpoint, signCheckpoint } from "./checkpoint.ts";
import { StoreDamageError } from "./errors.ts";
import { CHAIN_SIZE, FRAME_EVENT, FRAME_OVERHEAD, FRAME_POSITION, MAX_PAYLOAD } from "./frame.ts";
import { type SigningKey } from "./keys.ts";
import { rootFromNodes } from "./merkle.ts";
import { type MerkleLevels } from "./merkle_levels.ts";
import { crc32c } from "./crc32c.ts";
import { sha256Into } from "./sha256.ts";
import { type OpenedStore, openStore, type StoreOptions } from "./store_open.ts";
import { SegmentWriter } from "./segment_writer.ts";

export type { StoreOptions } from "./store_open.ts";

/** One batch handed to `append`. */
export interface AppendBatch {
  source: string;
  events: NewEvent[];
  /** The source's position after this batch; durable together with its events. */
  position?: string;
}

/** What `append` resolves with. */
export interface AppendResult {
  /** Seq of the first event of the batch (the next seq when the batch was empty). */
  firstSeq: number;
  count: number;
}

/** An event that became durable, for derived consumers (index, detectors). */
export interface DurableRecord {
  seq: number;
  event: AuditEvent;
  json: string;
}

interface Pending {
  batch: AppendBatch;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

const encoder = new TextEncoder();

/** The open, writable store of one data directory. */
export class Store {
  #o: OpenedStore;
  #writer: SegmentWriter;
  #levels: MerkleLevels;
  #key: SigningKey;
  #queue: Pending[] = [];
  #flushing: Promise<void> | null = null;
  #buf = new Uint8Array(1 << 20);
  #leaves = new Uint8Array(32 * 4096);
  #link = new Uint8Array(64);
  #listeners: ((records: DurableRecord[]) => void)[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #broken: Error | null = null;
  #lastCheckpointSize: number;
  #mutex: Promise<unknown> = Promise.resolve();

  private constructor(o: OpenedStore) {
    this.#o = o;
    this.#writer = o.writer;
    this.#levels = o.levels;
    this.#key = o.key;
    this.#lastCheckpointSize = o.lastCheckpoint?.size ?? -1;
  }

  /** Opens (creating if needed) the store in `dataDir`, recovering a torn tail. */
  static async open(dataDir: string, opts: Partial<StoreOptions> = {}): Promise<Store> {
    const store = new Store(await openStore(dataDir, opts));
    const every = store.#o.opts.checkpointIntervalMs;
    if (every > 0) store.#timer = setInterval(() => store.#tick(), every);
    return store;
  }

  /** The data directory. */
  get dataDir(): string {
    return this.#o.dataDir;
  }

  /** Number of events in the log: also the seq the next event gets. */
  get size(): number {
    return this.#writer.nextSeq;
  }

  /** The signing key's id. */
  get keyId(): string {
    return this.#key.keyId;
  }

  /** The last durable position of a source, or undefined when it never stored one. */
  position(source: string): string | undefined {
    return this.#writer.positions.get(source);
  }

  /** All durable source positions. */
  positions(): ReadonlyMap<string, string> {
    return this.#writer.positions;
  }

  /** Calls `fn` with every batch of records once durable, in seq order. */
  onDurable(fn: (records: DurableRecord[]) => void): void {
    this.#listeners.push(fn);
  }

  /** Appends a batch; resolves once it is on disk (fsynced). */
  append(batch: AppendBatch): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(new Error("store is closed"));
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      this.#queue.push({ batch, resolve, reject });
      this.#flushing ??= this.#flushLoop().finally(() => (this.#flushing = null));
    });
  }

  async #flushLoop(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#queue.splice(0, this.#queue.length);
      await this.#exclusive(() => this.#commit(group));
    }
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#mutex.then(fn, fn);
    this.#mutex = run.catch(() => {});
    return run;
  }

  #ensure(bytes: number): void {
    if (bytes <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(bytes, this.#buf.length * 2));
    next.set(this.#buf);
    this.#buf = next;
  }

  async #commit(group: Pending[]): Promise<void> {
    if (this.#broken) {
      for (const p of group) p.reject(this.#broken);
      return;
    }
    await this.#writer.rollIfDue();
    const w = this.#writer;
    const chain = w.chain.slice();
    let seq = w.nextSeq;
    let off = 0;
    const nowUs = Date.now() * 1000;
    const records: DurableRecord[] = [];
    const results: AppendResult[] = [];
    const positions = new Map<string, string>();
    let leafCount = 0;
    try {
      for (const { batch } of group) {
        const firstSeq = seq;
        for (const ne of batch.events) {
          const event = { ...ne, seq, ingest_ts: ne.ingest_ts ?? nowUs } as AuditEvent;
          const json = canonicalJson(event);
          this.#ensure(off + FRAME_OVERHEAD + CHAIN_SIZE + 1 + json.length * 3);
          const p = off + FRAME_OVERHEAD;
          this.#buf[p + CHAIN_SIZE] = FRAME_EVENT;
          const n = encoder.encodeInto(json, this.#buf.subarray(p + CHAIN_SIZE + 1)).written;
          const len = CHAIN_SIZE + 1 + n;
          if (len > MAX_PAYLOAD) {
            throw new RangeError(
              `event of ${n} bytes from source ${batch.source} is over the limit`,
            );
          }
          if ((leafCount + 1) * 32 > this.#leaves.length) {
            const grown = new Uint8Array(this.#leaves.length * 2);
            grown.set(this.#leaves);
            this.#leaves = grown;
          }
          // Leaf hash = SHA-256(0x00 ‖ json), hashed in place; chain = SHA-256(chain ‖ leaf).
          sha256Into(this.#buf.subarray(p + CHAIN_SIZE, p + len), this.#leaves, leafCount * 32);
          this.#link.set(chain, 0);
          this.#link.set(this.#leaves.subarray(leafCount * 32, leafCount * 32 + 32), 32);
          sha256Into(this.#link, this.#buf, p);
          chain.set(this.#buf.subarray(p, p + 32));
          off = this.#frameTail(off, len);
          records.push({ seq, event, json });
          leafCount++;
          seq++;
        }
        if (batch.position !== undefined) {
          const body = JSON.stringify({ source: batch.source, pos: batch.position, next_seq: seq });
          off = this.#positionFrame(off, chain, body);
          positions.set(batch.source, batch.position);
        }
        results.push({ firstSeq, count: seq - firstSeq });
      }
    } catch (e) {
      for (const p of group) p.reject(e);
      return;
    }
    try {
      await w.write(this.#buf.subarray(0, off));
    } catch (e) {
      this.#broken = w.broken;
      log("error", "store write failed; the batch was not stored", {
        segment: w.segmentName,
        error: String(e),
      });
      for (const p of group) p.reject(e);
      return;
    }
    w.advance(seq, chain, positions);
    this.#o.opts.onCommit?.({ bytes: off, events: leafCount });
    this.#levels.appendLeaves(this.#leaves.subarray(0, leafCount * 32), leafCount);
    group.forEach((p, i) => p.resolve(results[i]!));
    if (records.length > 0) {
      for (const fn of this.#listeners) {
        try {
          fn(records);
        } catch (e) {
          log("warn", "a durable-record listener failed", { error: String(e) });
        }
      }
    }
  }

  #frameTail(off: number, len: number): number {
    const dv = new DataView(this.#buf.buffer);
    dv.setUint32(off, len);
    dv.setUint32(off + 4, crc32c(this.#buf, off + FRAME_OVERHEAD, off + FRAME_OVERHEAD + len));
    return off + FRAME_OVERHEAD + len;
  }

  #positionFrame(off: number, chain: Uint8Array, body: string): number {
    const bytes = encoder.encode(body);
    const len = CHAIN_SIZE + 1 + bytes.length;
    this.#ensure(off + FRAME_OVERHEAD + len);
    const p = off + FRAME_OVERHEAD;
    this.#buf.set(chain, p);
    this.#buf[p + CHAIN_SIZE] = FRAME_POSITION;
    this.#buf.set(bytes, p + CHAIN_SIZE + 1);
    return this.#frameTail(off, len);
  }

  /** Merkle root of the first `size` events (default: all). */
  root(size: number = this.size): Uint8Array {
    return rootFromNodes(size, this.#levels);
  }

  /**
   * Signs and appends a checkpoint of the current log, after syncing the Merkle node files it
   * vouches for. Skipped when nothing was added since the last one unless `force`.
   */
  checkpoint(force = false): Promise<Checkpoint | null> {
    return this.#exclusive(async () => {
      const size = this.#writer.nextSeq;
      if (!force && size === this.#lastCheckpointSize) return null;
      await this.#levels.sync();
      const cp = await signCheckpoint(this.#key, {
        size,
        root: this.root(size),
        chain: this.#writer.chain,
        ts: Date.now() * 1000,
      });
      await this.#o.appendCheckpoint(cp);
      this.#lastCheckpointSize = size;
      return cp;
    });
  }

  #tick(): void {
    this.checkpoint().catch((e) => log("error", "checkpoint failed", { error: String(e) }));
    this.#exclusive(() => this.#writer.rollIfDue()).catch((e) =>
      log("error", "segment roll failed", { error: String(e) })
    );
  }

  /** Waits for pending appends, writes a final checkpoint and releases the data directory. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    while (this.#flushing) await this.#flushing;
    try {
      if (!this.#broken) await this.checkpoint();
    } finally {
      await this.#exclusive(async () => {
        await this.#writer.close();
        this.#levels.close();
        await this.#o.release();
      });
    }
  }
}

export { StoreDamageError };
