/**
 * Detection inside the daemon, at a cost that follows the work rather than the history: the
 * engine's state is loaded from the snapshot (`snapshot.ts`) and caught up from the log after
 * its seq, then fed every durable batch; a snapshot is written every `snapshotEvery` records or
 * `snapshotIntervalMs`, and on stop. A snapshot that is missing, damaged, of another version or
 * config, of other alerts or of another log is rebuilt from the log in the background, while the
 * daemon collects and serves; `status()` says which, with progress, for `/healthz`.
 *
 * Promises: every durable record is fed once, in seq order — while catching up, new batches are
 * left to the log (which holds them) rather than held in memory, and the switch to following
 * `onDurable` happens in the same turn as the check that the engine is current; an alert raised
 * before (per `alerts.db`'s `raised_through`) is not sent again; a detector that threw, or an
 * engine that stopped, shows as unhealthy. The log is read through the seq reader a chunk at a
 * time, past damaged segments (`store/read_past_damage.ts`), with a turn of the event loop after
 * each chunk: a catch-up or rebuild holds one chunk of events, never a segment, and the HTTP
 * server answers while it runs. A catch-up can be held between two chunks (`holdFor`) while
 * other work reads much of the log (a verification, a download, an export), so that their memory
 * does not add up.
 *
 * @example
 * const live = LiveDetection.start(store, { config, alerts: AlertStore.open(alertsPath(dir)) });
 * board.watchDetection(() => live.status());
 * await live.stop(); // final snapshot
 */

import { log } from "../log.ts";
import { collectGarbage } from "../store/collect.ts";
import { CatchUpHolds } from "./holds.ts";
import { Pace } from "./pace.ts";
import { scanPastDamage, type SkippedRange } from "../store/read_past_damage.ts";
import { SkippedParts } from "./skipped_parts.ts";
import { SeqReader } from "../store/seq_reader.ts";
import type { DurableRecord, Store } from "../store/store.ts";
import { META_LINEAGE, META_RAISED } from "./alert_store.ts";
import { DetectEngine, type FeedRecord } from "./engine.ts";
import type { DetectState, DetectStatus, LiveOptions } from "./live_types.ts";
import { loadSnapshot, snapshotOf } from "./live_snapshot.ts";
import { configFingerprint, eventDigest, SnapshotWriter } from "./snapshot.ts";

export type { DetectState, DetectStatus, LiveOptions } from "./live_types.ts";

/** Records read from the log at a time while catching up. */
const CHUNK = 4096;

/** Detection of a running daemon. */
export class LiveDetection {
  readonly #store: Store;
  readonly #opts: LiveOptions;
  readonly #now: () => number;
  readonly #config: string;
  #engine: DetectEngine | null = null;
  #state: DetectState = "starting";
  #reason: string | null = null;
  #live = false;
  #stopping = false;
  #error: string | null = null;
  #read = 0;
  readonly #pace = new Pace();
  /** Damaged parts of the log read past. */
  readonly #skips = new SkippedParts();
  /** Seq the current catch-up started after, for progress. */
  #from = -1;
  /** The event at the engine's last seq (the last one fed, else the loaded snapshot's digest). */
  #lastJson: string | null = null;
  #lastDigest = "";
  /** A loaded snapshot's last event is yet to be compared with the log's. */
  #unchecked = false;
  readonly #snaps: SnapshotWriter;
  #begun: Promise<void> = Promise.resolve();
  #catching: Promise<void> | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #queued: ReturnType<typeof setTimeout> | undefined;
  readonly #current = Promise.withResolvers<void>();
  /** Holds on the catch-up ({@link holdFor}); released as the stop begins. */
  readonly #holds = new CatchUpHolds();

  private constructor(store: Store, opts: LiveOptions) {
    this.#store = store;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#config = configFingerprint(opts.config);
    this.#snaps = new SnapshotWriter(store.dataDir, this.#now);
  }

  /**
   * Starts detection over `store`: follows its durable batches from now on, and loads or
   * rebuilds the state in the background. Call before anything is appended that it must see.
   */
  static start(store: Store, opts: LiveOptions): LiveDetection {
    const live = new LiveDetection(store, opts);
    store.onDurable((records) => live.#onDurable(records));
    live.#timer = setInterval(() => {
      if (live.#live) void live.#write();
    }, opts.snapshotIntervalMs ?? 300_000);
    live.#begun = live.#begin();
    return live;
  }

  /** The engine, once loaded or started afresh; null while starting. */
  get engine(): DetectEngine | null {
    return this.#engine;
  }

  /** Resolves once the engine is current with the log (or detection failed or stopped). */
  get current(): Promise<void> {
    return this.#current.promise;
  }

  /** Where detection is, for health. */
  status(): DetectStatus {
    const e = this.#engine;
    const seq = e?.lastSeq ?? -1;
    const catching = this.#state === "catching_up" || this.#state === "rebuilding";
    const span = this.#store.size - 1 - this.#from;
    const errors: string[] = [];
    if (this.#error !== null) errors.push(this.#error);
    for (const f of e?.failures ?? []) {
      errors.push(`detector ${f.detector} failed at seq ${f.seq} and was stopped: ${f.error}`);
    }
    if (this.#snaps.error !== null) errors.push(this.#snaps.error);
    errors.push(...this.#skips.errors());
    return {
      state: this.#state,
      healthy: this.#error === null && (e?.failures.length ?? 0) === 0,
      seq,
      behind: Math.max(0, this.#store.size - 1 - seq),
      progress: catching ? (span <= 0 ? 1 : Math.min(1, (seq - this.#from) / span)) : null,
      reason: this.#reason,
      waiting: this.#holds.waiting,
      read: this.#read,
      snapshot: this.#snaps.last,
      errors,
    };
  }

  /**
   * Holds a catch-up or rebuild still under way at its next chunk, after a collection of the
   * whole heap, until `until` settles (and every other hold with it): for work that reads much
   * of the log itself (the verification at start, a bundle download, an export run), whose
   * memory must not add up with the catch-up's. New batches stay in the log meanwhile, as during
   * any catch-up; nothing is missed, alerts on old events come later. Returns false, and holds
   * nothing, once detection is current (or stopped or failed).
   */
  holdFor(until: Promise<unknown>, why: string): boolean {
    if (this.#live || this.#stopping || this.#error !== null) return false;
    this.#holds.add(until, why);
    return true;
  }

  /** Stops following, writes the final snapshot and waits for alerts in delivery. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#holds.release();
    clearInterval(this.#timer);
    clearTimeout(this.#queued);
    await this.#begun;
    await this.#catching;
    await this.#snaps.settled();
    if (this.#error === null) await this.#write();
    await this.#engine?.drain();
    if (this.#error === null) this.#state = "stopped";
    this.#current.resolve();
  }

  #onDurable(records: DurableRecord[]): void {
    const e = this.#engine;
    if (!this.#live || this.#stopping || this.#error !== null || e === null) return;
    if (records[0]!.seq > e.lastSeq + 1) {
      // Not expected (batches come in order), but the log has what is missing: read it there.
      this.#live = false;
      this.#state = "catching_up";
      this.#from = e.lastSeq;
      void this.#catchUp();
      return;
    }
    this.#feed(records, false);
    this.#maybeWrite();
  }

  /** Feeds records; an engine that throws stops detection (its state may be half fed). */
  #feed(records: readonly LogRecordLike[], fromLog: boolean): void {
    const e = this.#engine!;
    try {
      e.feed(records);
    } catch (error) {
      this.#fail(`detection stopped at seq ${e.lastSeq}: ${(error as Error)?.message ?? error}`);
      return;
    }
    if (fromLog) this.#read += records.length;
    const last = records.at(-1);
    if (last !== undefined && last.seq === e.lastSeq) this.#lastJson = last.json;
  }

  /** Feeds records read from the log, paced (`pace.ts`); false once stopping or failed. */
  #feedLog(records: LogRecordLike[]): Promise<boolean> {
    const ok = (): boolean => !this.#stopping && this.#error === null;
    const take = (slice: LogRecordLike[]): boolean => {
      this.#feed(slice, true);
      return ok();
    };
    return this.#pace.feed(records, take, ok);
  }

  #fail(message: string): void {
    this.#error = message;
    this.#live = false;
    this.#state = "failed";
    log("error", "detection stopped: alerts are not raised until it is fixed", { error: message });
    this.#current.resolve();
  }

  /** Loads the snapshot, or starts a rebuild, then catches up. */
  async #begin(): Promise<void> {
    try {
      const why = await this.#load();
      if (this.#stopping) return;
      if (why !== null) this.#rebuild(why);
      await this.#catchUp();
    } catch (error) {
      this.#fail(`detection could not start: ${(error as Error)?.message ?? error}`);
    }
  }

  /** Loads a fitting snapshot; returns why it cannot be used, or null when loaded. */
  async #load(): Promise<string | null> {
    const { dataDir, size } = this.#store;
    const fit = { dataDir, size, config: this.#config, alerts: this.#opts.alerts };
    const got = await loadSnapshot(fit, () => this.#newEngine());
    if (typeof got === "string") return got;
    const { engine, header: h } = got;
    this.#engine = engine;
    this.#lastDigest = h.last;
    this.#unchecked = true;
    this.#snaps.last = { seq: h.seq, at: Date.parse(h.written) };
    this.#state = "catching_up";
    this.#from = h.seq;
    log("info", "detection state loaded from its snapshot", { seq: h.seq, size: this.#store.size });
    return null;
  }

  /** A new engine on an emptied alert store, to be fed the whole log. */
  #rebuild(why: string): void {
    const alerts = this.#opts.alerts;
    alerts.transaction(() => {
      const raised = alerts.meta(META_RAISED);
      alerts.clear();
      alerts.setMeta(META_LINEAGE, crypto.randomUUID());
      if (raised !== undefined) alerts.setMeta(META_RAISED, raised);
    });
    this.#engine = this.#newEngine();
    this.#skips.clear();
    this.#lastJson = null;
    this.#lastDigest = "";
    this.#unchecked = false;
    this.#snaps.last = null;
    this.#state = "rebuilding";
    this.#reason = why;
    this.#from = -1;
    log("warn", "detection state is rebuilt from the log in the background", { reason: why });
  }

  /** An engine with the options' channels, callback and detectors, quiet as `alerts.db` says. */
  #newEngine(): DetectEngine {
    const raised = Number(this.#opts.alerts.meta(META_RAISED) ?? -1);
    const quietThrough = Number.isInteger(raised) ? raised : -1;
    return new DetectEngine(this.#opts.config, { ...this.#opts, quietThrough });
  }

  /** Reads the log after the engine's last seq until it is current, then follows live. */
  #catchUp(): Promise<void> {
    this.#catching ??= this.#readLog()
      .catch((e) => this.#fail(`detection could not go on: ${(e as Error)?.message ?? e}`))
      .finally(() => (this.#catching = null));
    return this.#catching;
  }

  async #readLog(): Promise<void> {
    const e = this.#engine!;
    try {
      const reader = await SeqReader.open(this.#store.dataDir);
      while (!this.#stopping && this.#error === null) {
        const target = this.#store.size;
        if (e.lastSeq + 1 >= target) {
          if (this.#unchecked) {
            // Nothing to catch up, but the snapshot's last event is still to be compared.
            const at = { fromSeq: e.lastSeq, toSeq: e.lastSeq + 1 };
            const unreadable = (k: SkippedRange): never => {
              throw new SnapshotMismatch(`the snapshot's seq is in damaged log: ${k.reason}`);
            };
            for await (const rs of scanPastDamage(reader, at, unreadable)) {
              for (const r of rs) this.#check(r);
            }
            this.#unchecked = false;
            continue;
          }
          // Same turn as the check: the next durable batch goes to the engine, none is missed.
          if (this.#read > 0) collectGarbage(); // once: what the catch-up left, before it grows
          this.#live = true;
          this.#state = "running";
          this.#current.resolve();
          return;
        }
        // From the last seq itself when a snapshot was loaded: that event must be the one the
        // snapshot names, or the state belongs to another log.
        const before = e.lastSeq;
        let chunk: LogRecordLike[] = [];
        const checking = this.#unchecked;
        const fromSeq = e.lastSeq + (checking ? 0 : 1);
        this.#unchecked = false;
        // Damage is read past, not stopped at: what follows it — the STORE_DAMAGED event that
        // names it above all — must still reach the detectors.
        let skipped = false;
        const onSkip = (k: SkippedRange): void => {
          skipped = true;
          if (checking && k.fromSeq <= before) {
            throw new SnapshotMismatch(`the snapshot's seq ${before} is in damaged log`);
          }
          this.#skips.note(k);
        };
        const range = { fromSeq, toSeq: target, chunk: CHUNK };
        for await (const records of scanPastDamage(reader, range, onSkip)) {
          for (const r of records) {
            if (r.seq === before) this.#check(r);
            else chunk.push(r);
          }
          if (chunk.length >= CHUNK) {
            const fed = await this.#feedLog(chunk);
            chunk = [];
            if (!fed) return;
            this.#maybeWrite();
            if (this.#holds.held && !await this.#held()) return;
          }
        }
        if (!await this.#feedLog(chunk)) return;
        if (e.lastSeq === before && !skipped && this.#store.size === target) {
          throw new Error(`the log holds no events after seq ${before} below ${target}`);
        }
      }
    } catch (error) {
      if (error instanceof SnapshotMismatch && !this.#stopping) {
        this.#rebuild(error.message);
        return await this.#readLog();
      }
      this.#fail(`detection could not read the log: ${(error as Error)?.message ?? error}`);
    }
  }

  /**
   * Waits out the holds between two chunks, those made meanwhile too; false once stopping or
   * failed. The collection first: what the catch-up's chunks left is freed before the other
   * work takes its memory.
   */
  async #held(): Promise<boolean> {
    collectGarbage();
    await this.#holds.waitOut({ seq: this.#engine!.lastSeq, size: this.#store.size });
    return !this.#stopping && this.#error === null;
  }

  /** Compares the event at a loaded snapshot's seq with the one it names. */
  #check(r: LogRecordLike): void {
    if (eventDigest(r.json) !== this.#lastDigest) {
      throw new SnapshotMismatch(`the snapshot does not match the log at seq ${r.seq}`);
    }
    this.#lastJson = r.json;
  }

  /**
   * A snapshot every `snapshotEvery` records, during a rebuild too (its progress survives),
   * made on a turn of its own: not inside the store's commit that delivered the batch.
   */
  #maybeWrite(): void {
    const e = this.#engine!;
    const every = this.#opts.snapshotEvery ?? 200_000;
    if (this.#queued !== undefined || e.lastSeq - (this.#snaps.last?.seq ?? this.#from) < every) {
      return;
    }
    this.#queued = setTimeout(() => {
      this.#queued = undefined;
      if (!this.#stopping) void this.#write();
    }, 0);
  }

  /** Writes a snapshot of the engine as it is now. */
  #write(): Promise<void> {
    const e = this.#engine;
    if (e === null || this.#error !== null || e.lastSeq < 0) return Promise.resolve();
    const last = this.#lastJson === null ? this.#lastDigest : eventDigest(this.#lastJson);
    const fit = { config: this.#config, alerts: this.#opts.alerts, last };
    return this.#snaps.write(e.lastSeq, () => snapshotOf(e, fit, this.#now()));
  }
}

/** A record with its canonical JSON: the store's durable records and the log's both fit. */
type LogRecordLike = FeedRecord & { json: string };

/** The loaded state is not of this log: rebuild. */
class SnapshotMismatch extends Error {}
