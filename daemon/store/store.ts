/**
 * The append-only store: segments of framed, chained records, a Merkle tree over them, and
 * signed checkpoints. `append()` resolves only after the batch is fsynced; appenders that
 * arrive while a write is in flight share the next fsync (group commit). Each batch may carry
 * its source's position, and `position()` reads the last durable one back after a restart —
 * the basis of exactly-once collection.
 */

import type { AppendBatch, AppendResult, DurableRecord } from "./append.ts";
import { log } from "../log.ts";
import { type Checkpoint, signCheckpoint } from "./checkpoint.ts";
import { StoreDamageError } from "./errors.ts";
import { encodeCommitFrame } from "./frame.ts";
import { type Encoded, GroupFramer, type Pending, takeGroup } from "./group_framer.ts";
import { type SigningKey } from "./keys.ts";
import { KEY_EVENT_SOURCE } from "./key_handover.ts";
import {
  declareLoss,
  rotateKey,
  type RotateOptions,
  type RotationHost,
  type RotationResult,
} from "./key_rotation.ts";
import { type Hasher, startHasher } from "./hasher.ts";
import { type OpenedStore, openStore, type StoreOptions } from "./store_open.ts";
import { SegmentWriter } from "./segment_writer.ts";
import { SealedCompressor } from "./compress_file.ts";

export type { StoreOptions } from "./store_open.ts";
export type { RotateOptions, RotationResult } from "./key_rotation.ts";

export type { AppendBatch, AppendResult, DurableRecord } from "./append.ts";

/** Events per group commit beyond which waiting batches go into the next group. */
const GROUP_EVENTS = 2048;
/** Groups in flight at once: framing, hashing, writing and fsyncing overlap across them. */
const SLOTS = 4;

/** The open, writable store of one data directory. */
export class Store {
  #o: OpenedStore;
  #writer: SegmentWriter;
  #hasher: Hasher;
  #key: SigningKey;
  #queue: Pending[] = [];
  #flushing: Promise<void> | null = null;
  /** Resolves the flush loop's wait for groups in flight when a new batch arrives. */
  #wake: (() => void) | null = null;
  // Slots for groups in flight: one is framed on this thread while earlier ones are hashed on
  // the worker and written; frames live in shared memory so the worker hashes them in place.
  #framer = new GroupFramer(SLOTS);
  /** Seq after the last framed group: ahead of the durable one while groups are in flight. */
  #pSeq: number;
  #epoch = 0;
  #resetNeeded = false;
  #listeners: ((records: DurableRecord[]) => void)[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #broken: Error | null = null;
  #lastCheckpointSize: number;
  #mutex: Promise<unknown> = Promise.resolve();
  #checkpoints: Promise<unknown> = Promise.resolve();
  #lastCheckpoint: Checkpoint | null;
  #lastRotation: RotationResult | null = null;
  #compressor = new SealedCompressor();

  private constructor(o: OpenedStore, hasher: Hasher) {
    this.#o = o;
    this.#writer = o.writer;
    this.#hasher = hasher;
    this.#key = o.key;
    this.#lastCheckpointSize = o.lastCheckpoint?.size ?? -1;
    this.#lastCheckpoint = o.lastCheckpoint ?? null;
    this.#pSeq = o.writer.nextSeq;
  }

  /** Opens (creating if needed) the store in `dataDir`, recovering a torn tail. */
  static async open(dataDir: string, opts: Partial<StoreOptions> = {}): Promise<Store> {
    const o = await openStore(dataDir, opts);
    let hasher: Hasher;
    try {
      const tail = o.levels.tail();
      o.levels.close();
      hasher = await startHasher(dataDir, o.writer.chain, { worker: o.opts.hashWorker, tail });
    } catch (e) {
      await o.writer.close();
      await o.release();
      throw e;
    }
    const store = new Store(o, hasher);
    if (o.lostKey) {
      try {
        store.#lastRotation = await store.#queueCheckpointWork(() =>
          declareLoss(store.#rotationHost(), o.lostKey!, o.opts.recoverLostKey ?? {})
        );
      } catch (e) {
        // No closing checkpoint: the new key must sign nothing before its handover is recorded.
        store.#broken = e as Error;
        await store.close().catch(() => {});
        throw e;
      }
    }
    if (o.opts.compressSealed) {
      o.writer.onSealed = (path, firstSeq) => store.#compressor.queue(path, firstSeq);
      for (const e of o.uncompressed) store.#compressor.queue(e.path, e.firstSeq);
    }
    const every = o.opts.checkpointIntervalMs;
    if (every > 0) store.#timer = setInterval(() => store.#tick(), every);
    return store;
  }

  /** Resolves once every compression queued so far is done. */
  compressed(): Promise<void> {
    return this.#compressor.idle();
  }

  /** The data directory. */
  get dataDir(): string {
    return this.#o.dataDir;
  }

  /** Number of durable events: also the seq the next event gets. */
  get size(): number {
    return this.#writer.nextSeq;
  }

  /** The signing key's id. */
  get keyId(): string {
    return this.#key.keyId;
  }

  /** The declared loss this open performed (`recoverLostKey`), or null. */
  get lastRotation(): RotationResult | null {
    return this.#lastRotation;
  }

  /**
   * Rotates the signing key (`key_rotation.ts`): a KEY_ROTATE event covered by a checkpoint of
   * the old key, then the new key installed and signing. No checkpoint is signed in between.
   */
  rotateKey(opts: RotateOptions = {}): Promise<RotationResult> {
    if (this.#closed) return Promise.reject(new Error("store is closed"));
    return this.#queueCheckpointWork(() => rotateKey(this.#rotationHost(), opts));
  }

  #rotationHost(): RotationHost {
    return {
      dataDir: this.#o.dataDir,
      key: () => this.#key,
      setKey: (k) => (this.#key = k),
      append: async (events) => (await this.append({ source: KEY_EVENT_SOURCE, events })).firstSeq,
      sign: async (publish) => (await this.#signNow(true, publish))!,
      publish: (cp) => this.#publish(cp),
    };
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
      this.#wake?.();
      this.#kick();
    });
  }

  /** Starts the flush loop unless it runs; a batch queued as it ends starts it again. */
  #kick(): void {
    if (this.#flushing) return;
    this.#flushing = this.#flushLoop().finally(() => {
      this.#flushing = null;
      if (this.#queue.length > 0) this.#kick();
    });
  }

  /**
   * Group commit, three stages deep: frame group k+1 here while group k is hashed on the worker
   * and group k-1 is written and fsynced. Groups are written strictly in order.
   */
  async #flushLoop(): Promise<void> {
    const busy: (Promise<void> | null)[] = Array(SLOTS).fill(null);
    let last: Promise<void> = Promise.resolve();
    let slot = 0;
    for (;;) {
      while (this.#queue.length > 0) {
        if (busy[slot]) await busy[slot];
        const group = takeGroup(this.#queue, GROUP_EVENTS);
        if (this.#broken) {
          for (const p of group) p.reject(this.#broken);
          continue;
        }
        if (this.#resetNeeded) {
          this.#hasher.reset(this.#writer.chain);
          this.#pSeq = this.#writer.nextSeq;
          this.#resetNeeded = false;
        }
        const enc = this.#encode(group, slot);
        if (!enc) continue;
        const hashed = this.#hasher.hash(
          this.#framer.buffer(slot),
          this.#framer.frames(slot),
          enc.frameCount,
        );
        hashed.catch(() => {}); // handled below, once the group before it is written
        const prev = last;
        last = busy[slot] = (async () => {
          await prev;
          let chain: Uint8Array;
          try {
            chain = await hashed;
          } catch (e) {
            this.#fail(enc, e);
            return;
          }
          await this.#exclusive(() => this.#write(enc, chain));
        })();
        slot = (slot + 1) % SLOTS;
      }
      // Wait for the groups in flight — or for a new batch, which joins the pipeline at once
      // instead of waiting for it to drain.
      let drained = false;
      const done = last.then(() => (drained = true));
      await Promise.race([done, new Promise<void>((r) => (this.#wake = r))]);
      this.#wake = null;
      if (drained && this.#queue.length === 0) return;
    }
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#mutex.then(fn, fn);
    this.#mutex = run.catch(() => {});
    return run;
  }

  /** Frames a group after the groups in flight; null when no batch of it could be framed. */
  #encode(group: Pending[], slot: number): Encoded | null {
    const enc = this.#framer.frame(group, slot, {
      firstSeq: this.#pSeq,
      epoch: this.#epoch,
      signed: Math.max(0, this.#lastCheckpointSize),
    });
    if (enc !== null) this.#pSeq = enc.nextSeq;
    return enc;
  }

  /** Rejects a group; every group framed after it is void too. */
  #fail(enc: Encoded, e: unknown): void {
    if (enc.epoch === this.#epoch) {
      this.#epoch++;
      this.#resetNeeded = true;
    }
    for (const p of enc.group) p.reject(e);
  }

  /** Writes and fsyncs a hashed group, then acks it. */
  async #write(enc: Encoded, chain: Uint8Array): Promise<void> {
    if (enc.epoch !== this.#epoch) {
      for (const p of enc.group) p.reject(new Error("not stored: an earlier write failed"));
      return;
    }
    const w = this.#writer;
    const started = performance.now();
    try {
      await w.rollIfDue();
      await w.write(enc.bytes);
    } catch (e) {
      this.#broken = w.broken;
      this.#o.opts.onWriteError?.(e);
      log("error", "store write failed; the batch was not stored", {
        segment: w.segmentName,
        error: String(e),
      });
      this.#fail(enc, e);
      return;
    }
    w.advance(enc.nextSeq, chain, enc.positions);
    this.#hasher.commit();
    this.#o.opts.onCommit?.({
      bytes: enc.bytes.length,
      events: enc.leafCount,
      seconds: (performance.now() - started) / 1000,
    });
    enc.group.forEach((p, i) => p.resolve(enc.results[i]!));
    if (enc.records.length > 0) {
      for (const fn of this.#listeners) {
        try {
          fn(enc.records);
        } catch (e) {
          log("warn", "a durable-record listener failed", { error: String(e) });
        }
      }
    }
  }

  /** The latest signed checkpoint (found at open or written since), or null. */
  get lastCheckpoint(): Checkpoint | null {
    return this.#lastCheckpoint;
  }

  /** Merkle root of the first `size` durable events (default: all). */
  root(size: number = this.size): Promise<Uint8Array> {
    return this.#hasher.root(size);
  }

  /**
   * Signs and appends a checkpoint of the durable log, after syncing the Merkle node files it
   * vouches for. Skipped when nothing was added since the last one unless `force`. Runs beside
   * appends: it covers what was durable when it started.
   */
  checkpoint(force = false): Promise<Checkpoint | null> {
    return this.#queueCheckpointWork(() => this.#signNow(force, true));
  }

  /** Runs `fn` after every checkpoint (and rotation) queued before it. */
  #queueCheckpointWork<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#checkpoints.then(fn);
    this.#checkpoints = run.catch(() => {});
    return run;
  }

  async #signNow(force: boolean, publish: boolean): Promise<Checkpoint | null> {
    const size = this.#writer.nextSeq;
    const chain = this.#writer.chain.slice();
    if (!force && size === this.#lastCheckpointSize) return null;
    const root = await this.#hasher.root(size, { sync: true });
    const cp = await signCheckpoint(this.#key, { size, root, chain, ts: Date.now() * 1000 });
    if (publish) await this.#publish(cp);
    return cp;
  }

  async #publish(cp: Checkpoint): Promise<void> {
    await this.#o.appendCheckpoint(cp);
    await this.#o.opts.onCheckpoint?.(cp).catch((e) =>
      log("error", "a signed checkpoint was not copied", { size: cp.size, error: String(e) })
    );
    this.#lastCheckpointSize = cp.size;
    this.#writer.signedSize = cp.size;
    // The log records that this checkpoint exists (the next group would, but there may be none):
    // `verify` then refuses a checkpoints file that lost it.
    if (this.#broken) return;
    await this.#exclusive(() =>
      this.#writer.write(encodeCommitFrame(this.#writer.chain, this.#writer.nextSeq, cp.size))
    ).catch((e) =>
      log("warn", "could not record a signed checkpoint in the log", { error: String(e) })
    );
    this.#lastCheckpoint = cp;
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
      await this.#compressor.idle();
    } finally {
      await this.#exclusive(async () => {
        await this.#writer.close();
        await this.#hasher.close();
        await this.#o.release();
      });
    }
  }
}

export { StoreDamageError };
