/**
 * The detection engine: feature extraction, the rules and the models, deduplication, the alert
 * store and the channels, fed with durable records in seq order. `feed` may be called with any
 * split of the records into batches — results depend only on their order — so the engine behind
 * `store.onDurable` and a batch run over the log find the same alerts.
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
import { type AlertFilter, AlertStore } from "./alert_store.ts";
import { type AlertChannel, channelWants } from "./channel.ts";
import { type DetectConfig, sensitiveMatcher } from "./config.ts";
import { Deduplicator } from "./dedup.ts";
import type { DetectContext, Detector, EventFacts } from "./detector.ts";
import { acknowledgeAlert } from "./ack.ts";
import type { EntityProfile, EntityWindow } from "./entity_window.ts";
import { isAckEvent } from "./event_facts.ts";
import { FeatureExtractor, type FeatureSink } from "./features.ts";
import { windowModels } from "./models.ts";
import type { RoleProfile } from "./profile.ts";
import {
  auditTampering,
  ddlByNonDdlRole,
  failedLoginBurst,
  newClientAddr,
  newObjectReads,
  privilegeEscalation,
} from "./rules_event.ts";
import { appSurge, sharedClientAddr } from "./rules_entity.ts";
import { bulkRead, offHours } from "./rules_window.ts";
import type { FeatureWindow } from "./window.ts";

/** A record to feed: the store's `DurableRecord` and the log reader's `LogRecord` both fit. */
export interface FeedRecord {
  seq: number;
  event: AuditEvent;
}

/** The detectors of a config, rules first: the order their drafts reach deduplication. */
export function detectorsFor(cfg: DetectConfig): Detector[] {
  const all = [
    auditTampering,
    privilegeEscalation,
    ddlByNonDdlRole,
    failedLoginBurst(),
    newClientAddr,
    newObjectReads,
    offHours,
    bulkRead,
    sharedClientAddr,
    appSurge,
    windowModels(),
  ];
  return all.filter((d) => !cfg.disabled.includes(d.name));
}

/** Options of the engine. */
export interface EngineOptions {
  /** Where alerts go; default an in-memory store. */
  alerts?: AlertStore;
  channels?: AlertChannel[];
  /** Called with every new or updated alert, after it is stored. */
  onAlert?: (alert: Alert, created: boolean) => void;
}

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

  constructor(config: DetectConfig, opts: EngineOptions = {}) {
    this.config = config;
    this.alerts = opts.alerts ?? AlertStore.memory();
    this.#isSensitive = sensitiveMatcher(config.sensitive_objects);
    this.#features = new FeatureExtractor(config, this.#isSensitive);
    this.#detectors = detectorsFor(config);
    this.#dedup = new Deduplicator(config.merge_minutes);
    this.#channels = opts.channels ?? [];
    this.#onAlert = opts.onAlert;
  }

  /** Seq of the last record fed, −1 before any. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Events fed so far (acks excluded). */
  get events(): number {
    return this.#events;
  }

  /** Every role's learned history. */
  get profiles(): ReadonlyMap<string, RoleProfile> {
    return this.#features.profiles;
  }

  /** Takes in records in seq order; records at or below the last fed seq are skipped. */
  feed(records: readonly FeedRecord[]): void {
    // One alert-store transaction per call: a burst of drafts is one commit, not one each.
    this.alerts.batch(() => this.#feed(records));
  }

  #feed(records: readonly FeedRecord[]): void {
    for (const r of records) {
      if (r.seq <= this.#lastSeq) continue;
      this.#lastSeq = r.seq;
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
    this.alerts.batch(() => this.#features.flush(this));
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

  /** FeatureSink: one event with its facts. */
  event(ev: AuditEvent, seq: number, facts: EventFacts, profile: RoleProfile): void {
    const ctx = this.#ctx(profile);
    for (const d of this.#detectors) if (d.event) this.#emit(d.event(ev, seq, facts, ctx));
  }

  /** FeatureSink: one closed address or application window. */
  entity(w: EntityWindow, history: EntityProfile): void {
    const ctx = this.#ctx(this.#features.profile(w.mainRole));
    for (const d of this.#detectors) if (d.entity) this.#emit(d.entity(w, history, ctx));
  }

  /** FeatureSink: one closed window. */
  window(w: FeatureWindow, vector: number[], profile: RoleProfile): void {
    const ctx = this.#ctx(profile);
    for (const d of this.#detectors) if (d.window) this.#emit(d.window(w, vector, ctx));
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
      this.#onAlert?.(alert, created);
      if (created) this.#send(alert);
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
