/**
 * Feature extraction on event time: keeps each role's history and its open windows, classifies
 * every event, and closes a window once the newest event time has passed its end by the allowed
 * lateness. Everything depends only on the order of the events fed, never on the wall clock or on
 * how the events were split into batches — the reason batch and incremental detection agree.
 */

import type { AuditEvent } from "../event/model.ts";
import type { DetectConfig } from "./config.ts";
import type { EventFacts } from "./detector.ts";
import { classify } from "./event_facts.ts";
import { RoleProfile } from "./profile.ts";
import { FeatureWindow } from "./window.ts";

/** Receives what extraction derives, in order. */
export interface FeatureSink {
  /** One event, with the role's history before it (role "" for events without a role). */
  event(ev: AuditEvent, seq: number, facts: EventFacts, profile: RoleProfile): void;
  /** One closed window with its vector, before the role's history takes it in. */
  window(w: FeatureWindow, vector: number[], profile: RoleProfile): void;
}

/** Per-role state of feature extraction. */
export class FeatureExtractor {
  readonly profiles = new Map<string, RoleProfile>();
  #open = new Map<string, FeatureWindow>();
  #cfg: DetectConfig;
  #isSensitive: (o: string) => boolean;
  #watermark = -Infinity;
  #nextClose = Infinity;

  constructor(cfg: DetectConfig, isSensitive: (o: string) => boolean) {
    this.#cfg = cfg;
    this.#isSensitive = isSensitive;
  }

  /** Newest event time seen. */
  get watermark(): number {
    return this.#watermark;
  }

  /** The history of a role, created empty on first use. */
  profile(role: string): RoleProfile {
    let p = this.profiles.get(role);
    if (!p) this.profiles.set(role, p = new RoleProfile(role));
    return p;
  }

  /** Takes in one event. */
  add(seq: number, ev: AuditEvent, sink: FeatureSink): void {
    if (ev.ts > this.#watermark) {
      this.#watermark = ev.ts;
      const lateness = this.#cfg.lateness_minutes * 60e6;
      if (this.#nextClose <= ev.ts - lateness) this.#closeUntil(ev.ts - lateness, sink);
    }
    const role = ev.role ?? "";
    const p = this.profile(role);
    const c = classify(ev);
    const obj = ev.object;
    const firstTimeObject = obj !== undefined && role !== "" && (c.read || c.write) &&
      !p.objects.has(obj);
    const facts: EventFacts = {
      ...c,
      firstTimeObject,
      newAddr: ev.client_addr !== undefined && p.events > 0 && !p.addrs.has(ev.client_addr),
      sensitive: obj !== undefined && this.#isSensitive(obj),
      newObjectsWeek: 0,
    };
    if (firstTimeObject && c.read) facts.newObjectsWeek = p.noteNewObject(ev.ts);
    sink.event(ev, seq, facts, p);
    if (role === "") return;
    if (ev.ts < p.firstTs) p.firstTs = ev.ts;
    if (ev.ts > p.lastTs) p.lastTs = ev.ts;
    p.events++;
    if (c.ddl) p.ddlEvents++;
    if (ev.client_addr !== undefined) p.addrs.add(ev.client_addr);
    if (obj !== undefined && (c.read || c.write)) p.objects.add(obj);
    this.#windowOf(role, ev.ts).add(seq, ev, c, facts, {
      ...(ev.db === undefined ? {} : { db: ev.db }),
      ...(ev.application_name === undefined ? {} : { app: ev.application_name }),
    });
  }

  /** Closes every open window (end of a batch run, or shutdown). */
  flush(sink: FeatureSink): void {
    this.#closeUntil(Infinity, sink);
  }

  #windowOf(role: string, ts: number): FeatureWindow {
    const width = this.#cfg.window_minutes * 60e6;
    const start = Math.floor(ts / width) * width;
    const key = `${role}\u0000${start}`;
    let w = this.#open.get(key);
    if (!w) {
      w = new FeatureWindow(role, start, start + width);
      this.#open.set(key, w);
      const close = w.end;
      if (close < this.#nextClose) this.#nextClose = close;
    }
    return w;
  }

  /** Closes windows whose end is at or before `t`, by end then role: a fixed order. */
  #closeUntil(t: number, sink: FeatureSink): void {
    const due = [...this.#open.values()].filter((w) => w.end <= t);
    due.sort((a, b) => a.end - b.end || (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
    for (const w of due) {
      this.#open.delete(`${w.role}\u0000${w.start}`);
      const p = this.profile(w.role);
      const v = w.vector(p);
      sink.window(w, v, p);
      p.addWindow(w.start, w.readObjects.size, v, this.#cfg.baseline_windows);
    }
    this.#nextClose = Infinity;
    for (const w of this.#open.values()) if (w.end < this.#nextClose) this.#nextClose = w.end;
  }
}
