/**
 * The detection engine: feature extraction, the rules and the models, deduplication, the alert
 * store and the channels, fed with durable records in seq order. `feed` may be called with any
 * split of the records into batches — results depend only on their order — so the engine behind
 * `store.onDurable` and a batch run over the log find the same alerts. Its whole learned state
 * saves to JSON lines and loads into a new engine that then goes on exactly as the old one
 * would have (`saveState`, `loadState`): what the daemon's snapshot holds.
 *
 * A detector that throws is taken out (the others go on) and listed in `failures`, so a bug
 * in one rule is a health failure, never a silent gap; the failure is part of the state, since
 * a replay of the same log fails the same way. An alert goes to the channels once: when it is
 * new, and found while feeding a seq after `quietThrough` — the seq through which an earlier
 * run had already raised every alert (kept in `alerts.db` as `raised_through`), so a rebuild or
 * a catch-up never sends an alert again.
 *
 * @example
 * const engine = new DetectEngine(detectConfigFromTable(toml.detect ?? {}), {
 *   alerts: AlertStore.open(alertsPath(dataDir)),
 * });
 * store.onDurable((records) => engine.feed(records));
 */

import type { AuditEvent } from "../event/model.ts";
import { log } from "../log.ts";
import type { Store } from "../store/store.ts";
import type { Alert, AlertAck, AlertDraft } from "./alert.ts";
import { type AlertFilter, AlertStore, META_RAISED } from "./alert_store.ts";
import { type AlertChannel, channelWants } from "./channel.ts";
import { type DetectConfig, sensitiveMatcher } from "./config.ts";
import { Deduplicator } from "./dedup.ts";
import type { DetectContext, Detector, EventFacts } from "./detector.ts";
import { acknowledgeAlert } from "./ack.ts";
import { detectorsFor } from "./detectors.ts";
import type { GapCommands } from "./gap_commands.ts";
import type { EntityProfile, EntityWindow } from "./entity_window.ts";
import { isAckEvent } from "./event_facts.ts";
import { FeatureExtractor, type FeatureSink } from "./features.ts";
import type { RoleProfile } from "./profile.ts";
import { list, loadAck, loadIncident, num, obj, str } from "./state.ts";
import type { FeatureWindow } from "./window.ts";

/** A record to feed: the store's `DurableRecord` and the log reader's `LogRecord` both fit. */
export interface FeedRecord {
  seq: number;
  event: AuditEvent;
}

/** Options of the engine. */
export interface EngineOptions {
  /** Where alerts go; default an in-memory store. */
  alerts?: AlertStore;
  channels?: AlertChannel[];
  /**
   * Called with every new or updated alert, after it is stored; `raised` is true once per
   * alert, when it goes to the channels.
   */
  onAlert?: (alert: Alert, raised: boolean) => void;
  /** Alerts found while feeding seqs up to this one were raised before: store, do not send. */
  quietThrough?: number;
  /** The detectors to run; default `detectorsFor(config, gapCommands)`. */
  detectors?: Detector[];
  /** The gap commands of the core and the source plugins; default the core's alone. */
  gapCommands?: GapCommands;
}

/** A detector that threw, and was taken out. */
export interface DetectorFailure {
  detector: string;
  /** The seq being fed when it threw. */
  seq: number;
  error: string;
}

/** One line of saved engine state: a plain JSON object with a type tag `t`. */
export type StateLine = Record<string, unknown>;

/** Rules, models and alerting over a stream of durable events. */
export class DetectEngine implements FeatureSink {
  readonly config: DetectConfig;
  readonly alerts: AlertStore;
  #features: FeatureExtractor;
  #detectors: Detector[];
  #dedup: Deduplicator;
  #isSensitive: (o: string) => boolean;
  #channels: AlertChannel[];
  #onAlert: EngineOptions["onAlert"];
  #sending = new Set<Promise<void>>();
  /** Acks read from the chain for alerts not found yet (their windows still open). */
  #pendingAcks = new Map<string, AlertAck>();
  #siteDays = (ts: number): number => this.#features.siteDays(ts);
  #lastSeq = -1;
  #events = 0;
  #fed = 0;
  #quietThrough: number;
  /** Seq of the last alert raised, to note in the alert store at the end of the feed. */
  #raisedAt = -1;
  #failures: DetectorFailure[] = [];

  constructor(config: DetectConfig, opts: EngineOptions = {}) {
    this.config = config;
    this.alerts = opts.alerts ?? AlertStore.memory();
    this.#isSensitive = sensitiveMatcher(config.sensitive_objects);
    this.#features = new FeatureExtractor(config, this.#isSensitive);
    this.#detectors = opts.detectors ?? detectorsFor(config, opts.gapCommands);
    this.#dedup = new Deduplicator(config.merge_minutes);
    this.#channels = opts.channels ?? [];
    this.#onAlert = opts.onAlert;
    this.#quietThrough = opts.quietThrough ?? -1;
  }

  /** Seq of the last record fed, −1 before any. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Events fed so far (acks excluded), those a loaded state holds included. */
  get events(): number {
    return this.#events;
  }

  /** Records this engine took in itself: not those a loaded state holds, nor skipped ones. */
  get fed(): number {
    return this.#fed;
  }

  /** Detectors that threw and were taken out, oldest first. */
  get failures(): readonly DetectorFailure[] {
    return this.#failures;
  }

  /** Every role's learned history. */
  get profiles(): ReadonlyMap<string, RoleProfile> {
    return this.#features.profiles;
  }

  /** Takes in records in seq order; records at or below the last fed seq are skipped. */
  feed(records: readonly FeedRecord[]): void {
    // One alert-store transaction per call: a burst of drafts is one commit, not one each.
    this.alerts.batch(() => {
      try {
        this.#feed(records);
      } finally {
        this.#noteRaised();
      }
    });
  }

  #feed(records: readonly FeedRecord[]): void {
    for (const r of records) {
      if (r.seq <= this.#lastSeq) continue;
      this.#lastSeq = r.seq;
      this.#fed++;
      if (isAckEvent(r.event)) {
        this.#applyAck(r.seq, r.event);
        continue;
      }
      this.#events++;
      this.#features.add(r.seq, r.event, this);
    }
  }

  /** Closes every open window: the end of a batch run. */
  flush(): void {
    this.alerts.batch(() => {
      this.#features.flush(this);
      this.#noteRaised();
    });
  }

  /** Records, with the alerts, the seq through which every alert has been raised. */
  #noteRaised(): void {
    if (this.#raisedAt < 0) return;
    this.alerts.setMeta(META_RAISED, String(this.#raisedAt));
    this.#raisedAt = -1;
  }

  /**
   * The whole learned state as JSON lines, read in one synchronous pass (so it is the state
   * at `lastSeq` exactly, whatever is fed after): turn it into text before the next `feed`.
   */
  saveState(): StateLine[] {
    const out: StateLine[] = [{
      t: "engine",
      lastSeq: this.#lastSeq,
      events: this.#events,
      acks: [...this.#pendingAcks],
      failures: this.#failures,
    }];
    this.#features.save(out);
    for (const [group, incident] of this.#dedup.entries()) {
      out.push({ t: "incident", group, incident });
    }
    for (const d of this.#detectors) {
      if (d.save) out.push({ t: "detector", name: d.name, state: d.save() });
    }
    return out;
  }

  /**
   * Loads what `saveState` returned into this engine, which must be new. Throws SyntaxError
   * on a line it cannot read, leaving the engine unusable (make a new one to rebuild).
   */
  loadState(lines: Iterable<unknown>): void {
    if (this.#lastSeq !== -1 || this.#fed !== 0) {
      throw new Error("Cannot load detection state into an engine that has been fed");
    }
    const saved = new Map<string, unknown>();
    let engineLine = false;
    for (const raw of lines) {
      const line = obj(raw, "a state line");
      if (this.#features.load(line)) continue;
      if (line.t === "engine") {
        engineLine = true;
        this.#lastSeq = num(line, "lastSeq");
        this.#events = num(line, "events");
        for (const e of list(line, "acks")) {
          const [key, ack] = e as [string, unknown];
          this.#pendingAcks.set(key, loadAck(obj(ack, "ack")));
        }
        for (const f of list(line, "failures")) {
          const o = obj(f, "failure");
          this.#failures.push({
            detector: str(o, "detector"),
            seq: num(o, "seq"),
            error: str(o, "error"),
          });
        }
      } else if (line.t === "incident") {
        this.#dedup.restore(str(line, "group"), loadIncident(obj(line.incident, "incident")));
      } else if (line.t === "detector") {
        saved.set(str(line, "name"), line.state);
      } else {
        throw new SyntaxError(`Cannot read detection state: unknown line ${String(line.t)}`);
      }
    }
    if (!engineLine) throw new SyntaxError("Cannot read detection state: no engine line");
    this.#features.loaded();
    const failed = new Set(this.#failures.map((f) => f.detector));
    this.#detectors = this.#detectors.filter((d) => !failed.has(d.name));
    for (const d of this.#detectors) {
      const state = saved.get(d.name);
      if (state !== undefined) d.load?.(state);
    }
  }

  /** Stored alerts. */
  list(filter: AlertFilter = {}): Alert[] {
    return this.alerts.list(filter);
  }

  /**
   * Acknowledges alert `id`: appends the ack event to the chain (who, when, note) and records it
   * in the alert store once durable. Rejects for an unknown id.
   */
  ack(id: number, by: string, note: string, store: Store): Promise<Alert> {
    return acknowledgeAlert(this.alerts, store, { id, by, note });
  }

  /** Waits for channel deliveries in flight. */
  async drain(): Promise<void> {
    while (this.#sending.size > 0) await Promise.allSettled([...this.#sending]);
  }

  // The FeatureSink calls: each detector's call is guarded on its own, so that one that throws
  // is taken out and reported while the others go on. (Inline try blocks: this is the hot path.)

  /** FeatureSink: one event with its facts. */
  event(ev: AuditEvent, seq: number, facts: EventFacts, profile: RoleProfile): void {
    const ctx = this.#ctx(profile);
    for (const d of this.#detectors) {
      if (!d.event) continue;
      let drafts: AlertDraft[];
      try {
        drafts = d.event(ev, seq, facts, ctx);
      } catch (e) {
        this.#failed(d, e);
        continue;
      }
      if (drafts.length > 0) this.#emit(drafts);
    }
  }

  /** FeatureSink: one closed address or application window. */
  entity(w: EntityWindow, history: EntityProfile): void {
    const ctx = this.#ctx(this.#features.profile(w.mainRole));
    for (const d of this.#detectors) {
      if (!d.entity) continue;
      let drafts: AlertDraft[];
      try {
        drafts = d.entity(w, history, ctx);
      } catch (e) {
        this.#failed(d, e);
        continue;
      }
      if (drafts.length > 0) this.#emit(drafts);
    }
  }

  /** FeatureSink: one closed window. */
  window(w: FeatureWindow, vector: number[], profile: RoleProfile): void {
    const ctx = this.#ctx(profile);
    for (const d of this.#detectors) {
      if (!d.window) continue;
      let drafts: AlertDraft[];
      try {
        drafts = d.window(w, vector, ctx);
      } catch (e) {
        this.#failed(d, e);
        continue;
      }
      if (drafts.length > 0) this.#emit(drafts);
    }
  }

  #failed(d: Detector, e: unknown): void {
    const failure = {
      detector: d.name,
      seq: this.#lastSeq,
      error: e instanceof Error ? e.message : String(e),
    };
    this.#failures.push(failure);
    this.#detectors = this.#detectors.filter((x) => x !== d);
    log("error", "a detector failed and was stopped; detection goes on without it", failure);
  }

  #ctx(profile: RoleProfile): DetectContext {
    return {
      cfg: this.config,
      profile,
      profiles: this.#features.profiles,
      isSensitive: this.#isSensitive,
      clock: this.#features.clock,
      siteDays: this.#siteDays,
    };
  }

  #emit(drafts: AlertDraft[]): void {
    for (const d of drafts) {
      const { incident, created } = this.#dedup.add(d);
      const alert = this.alerts.save(incident);
      const ack = this.#pendingAcks.get(alert.key);
      if (ack && this.alerts.setAck(alert.key, ack)) {
        this.#pendingAcks.delete(alert.key);
        alert.ack = ack;
      }
      // Window closes and flushes find alerts while a later record is fed: that record's seq.
      const raised = created && this.#lastSeq > this.#quietThrough;
      this.#onAlert?.(alert, raised);
      if (raised) {
        this.#raisedAt = this.#lastSeq;
        this.#send(alert);
      }
    }
  }

  #send(alert: Alert): void {
    for (const c of this.#channels) {
      if (!channelWants(c, alert)) continue;
      const p: Promise<void> = c.send(alert).catch((e) =>
        log("warn", "alert channel failed", {
          channel: c.name,
          alert: alert.id,
          error: (e as Error)?.message ?? String(e),
        })
      ).finally(() => this.#sending.delete(p));
      this.#sending.add(p);
    }
  }

  #applyAck(seq: number, ev: AuditEvent): void {
    const key = ev.context?.alert_key;
    if (typeof key !== "string") return;
    const ack: AlertAck = {
      by: ev.app_user ?? "",
      note: typeof ev.context?.note === "string" ? ev.context.note : "",
      ts: ev.ts,
      seq,
    };
    if (!this.alerts.setAck(key, ack)) this.#pendingAcks.set(key, ack);
  }
}
