/**
 * Feature extraction on event time: keeps each role's history and its open windows (and those of
 * each client address and each application on a database), classifies every event, and closes a
 * window once the newest event time has passed its end by the allowed lateness. Everything
 * depends only on the order of the events fed, never on the wall clock or on how the events
 * were split into batches — the reason batch and incremental detection agree — and all of it
 * can be saved and loaded (`save`, `load`), so a daemon resumes instead of replaying the log.
 */

import type { AuditEvent } from "../event/model.ts";
import { localClock, type LocalTime } from "./clock.ts";
import type { DetectConfig } from "./config.ts";
import type { EventFacts } from "./detector.ts";
import { type EntityKind, EntityProfile, EntityWindow } from "./entity_window.ts";
import { classify, type EventClass } from "./event_facts.ts";
import { RoleProfile } from "./profile.ts";
import {
  decTime,
  encTime,
  list,
  loadEntityProfile,
  loadEntityWindow,
  loadProfile,
  loadWindow,
  obj,
  saveEntityProfile,
  saveEntityWindow,
  saveProfile,
  saveWindow,
  str,
} from "./state.ts";
import { FeatureWindow } from "./window.ts";

/** Receives what extraction derives, in order. */
export interface FeatureSink {
  /** One event, with the role's history before it (role "" for events without a role). */
  event(ev: AuditEvent, seq: number, facts: EventFacts, profile: RoleProfile): void;
  /** One closed window with its vector, before the role's history takes it in. */
  window(w: FeatureWindow, vector: number[], profile: RoleProfile): void;
  /** One closed address or application window, before its history takes it in. */
  entity(w: EntityWindow, profile: EntityProfile): void;
}

/** An address's or application's history and open windows. */
interface EntityState {
  history: EntityProfile;
  open: Map<number, EntityWindow>;
  /** The window the entity's last event went to: most events go to the same one. */
  last: EntityWindow | null;
}

function entityState(kind: EntityKind, key: string): EntityState {
  return { history: new EntityProfile(kind, key), open: new Map(), last: null };
}

/** Per-role state of feature extraction. */
export class FeatureExtractor {
  readonly profiles = new Map<string, RoleProfile>();
  /** Open windows by role, then by start. */
  #open = new Map<string, Map<number, FeatureWindow>>();
  /** Histories and open windows of client addresses, and of applications by database. */
  #addrs = new Map<string, EntityState>();
  #apps = new Map<string, Map<string, EntityState>>();
  /** The entities with open windows. */
  #openEntities = new Set<EntityState>();
  /** Time of the first event seen: how long detection has watched the site. */
  #since = Infinity;
  #sensitiveSeen = new Map<string, boolean>();
  #cfg: DetectConfig;
  #isSensitive: (o: string) => boolean;
  #watermark = -Infinity;
  #nextClose = Infinity;
  /** Event time on the site's clock (`timezone`). */
  readonly clock: (ts: number) => LocalTime;

  constructor(cfg: DetectConfig, isSensitive: (o: string) => boolean) {
    this.#cfg = cfg;
    this.#isSensitive = isSensitive;
    this.clock = localClock(cfg.timezone);
  }

  /** Days between the first event seen and `ts`. */
  siteDays(ts: number): number {
    return this.#since === Infinity ? 0 : (ts - this.#since) / 86_400_000_000;
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
    // Spelled out rather than spread: this runs for every event, and spreads cost here.
    const facts: EventFacts = {
      read: c.read,
      write: c.write,
      ddl: c.ddl,
      destructive: c.destructive,
      roleChange: c.roleChange,
      failedLogin: c.failedLogin,
      error: c.error,
      firstTimeObject,
      newAddr: ev.client_addr !== undefined && p.events > 0 && !p.addrs.has(ev.client_addr),
      newAppOrDb: p.events > 0 &&
        ((ev.application_name !== undefined && !p.apps.has(ev.application_name)) ||
          (ev.db !== undefined && !p.dbs.has(ev.db))),
      sensitive: obj !== undefined && this.#sensitive(obj),
      newObjectsWeek: 0,
    };
    if (firstTimeObject && c.read) facts.newObjectsWeek = p.noteNewObject(ev.ts);
    sink.event(ev, seq, facts, p);
    if (ev.ts < this.#since) this.#since = ev.ts;
    if (role === "") return;
    const addr = ev.client_addr;
    if (addr !== undefined) {
      let e = this.#addrs.get(addr);
      if (!e) this.#addrs.set(addr, e = entityState("client_addr", addr));
      this.#entity(e, seq, ev, c, role);
    }
    const app = ev.application_name;
    const db = ev.db;
    if (app !== undefined && db !== undefined) {
      let byDb = this.#apps.get(app);
      if (!byDb) this.#apps.set(app, byDb = new Map());
      let e = byDb.get(db);
      if (!e) byDb.set(db, e = entityState("application", `${app}@${db}`));
      this.#entity(e, seq, ev, c, role);
    }
    if (ev.ts < p.firstTs) p.firstTs = ev.ts;
    if (ev.ts > p.lastTs) p.lastTs = ev.ts;
    p.events++;
    if (c.ddl) p.ddlEvents++;
    if (ev.client_addr !== undefined) p.addrs.add(ev.client_addr);
    if (ev.application_name !== undefined) p.apps.add(ev.application_name);
    if (ev.db !== undefined) p.dbs.add(ev.db);
    if (obj !== undefined && (c.read || c.write)) p.objects.add(obj);
    this.#windowOf(role, ev.ts).add(seq, ev, c, facts);
  }

  /** Closes every open window (end of a batch run, or shutdown). */
  flush(sink: FeatureSink): void {
    this.#closeUntil(Infinity, sink);
  }

  /**
   * Appends the learned state to `out` as JSON lines: the site's clock, each role with its open
   * windows, each address and application with theirs. Caches (sensitive objects, the last
   * window an entity used) are left out: they are rebuilt as events come.
   */
  save(out: Record<string, unknown>[]): void {
    out.push({ t: "site", since: encTime(this.#since), watermark: encTime(this.#watermark) });
    for (const [role, p] of this.profiles) {
      const open = [...(this.#open.get(role)?.values() ?? [])].map(saveWindow);
      out.push({ t: "role", profile: saveProfile(p), open });
    }
    const entity = (e: EntityState) => ({
      history: saveEntityProfile(e.history),
      open: [...e.open.values()].map(saveEntityWindow),
    });
    for (const [addr, e] of this.#addrs) out.push({ t: "addr", addr, ...entity(e) });
    for (const [app, byDb] of this.#apps) {
      for (const [db, e] of byDb) out.push({ t: "app", app, db, ...entity(e) });
    }
  }

  /**
   * Takes back one line that `save` wrote into a new extractor; false when the line is not
   * feature state. Call `loaded()` after the last line.
   */
  load(line: Record<string, unknown>): boolean {
    const entity = (kind: EntityKind, key: string): EntityState => {
      const e = entityState(kind, key);
      e.history = loadEntityProfile(obj(line.history, "history"));
      for (const o of list(line, "open")) {
        const w = loadEntityWindow(obj(o, "window"));
        e.open.set(w.start, w);
      }
      if (e.open.size > 0) this.#openEntities.add(e);
      return e;
    };
    switch (line.t) {
      case "site":
        this.#since = decTime(line.since);
        this.#watermark = decTime(line.watermark);
        return true;
      case "role": {
        const p = loadProfile(obj(line.profile, "profile"));
        this.profiles.set(p.role, p);
        const open = list(line, "open");
        if (open.length > 0) {
          const byStart = new Map<number, FeatureWindow>();
          for (const o of open) {
            const w = loadWindow(obj(o, "window"));
            byStart.set(w.start, w);
          }
          this.#open.set(p.role, byStart);
        }
        return true;
      }
      case "addr": {
        const addr = str(line, "addr");
        this.#addrs.set(addr, entity("client_addr", addr));
        return true;
      }
      case "app": {
        const app = str(line, "app");
        const db = str(line, "db");
        let byDb = this.#apps.get(app);
        if (!byDb) this.#apps.set(app, byDb = new Map());
        byDb.set(db, entity("application", `${app}@${db}`));
        return true;
      }
      default:
        return false;
    }
  }

  /** Ends a load: the next window to close is found again from the open ones. */
  loaded(): void {
    this.#findNextClose();
  }

  /** Whether an object is sensitive, remembered: objects repeat, patterns are regexps. */
  #sensitive(object: string): boolean {
    let hit = this.#sensitiveSeen.get(object);
    if (hit === undefined) {
      if (this.#sensitiveSeen.size >= 100_000) this.#sensitiveSeen.clear();
      this.#sensitiveSeen.set(object, hit = this.#isSensitive(object));
    }
    return hit;
  }

  #entity(e: EntityState, seq: number, ev: AuditEvent, c: EventClass, role: string): void {
    let w = e.last;
    if (w === null || ev.ts < w.start || ev.ts >= w.end) {
      const width = this.#cfg.window_minutes * 60e6;
      const start = Math.floor(ev.ts / width) * width;
      w = e.open.get(start) ?? null;
      if (w === null) {
        const h = e.history;
        e.open.set(start, w = new EntityWindow(h.kind, h.key, start, start + width));
        this.#openEntities.add(e);
        if (w.end < this.#nextClose) this.#nextClose = w.end;
      }
      e.last = w;
    }
    const roles = e.history.roles;
    const known = roles.size;
    roles.add(role);
    w.add(seq, ev, role, c, known > 0 && roles.size > known);
  }

  #windowOf(role: string, ts: number): FeatureWindow {
    const width = this.#cfg.window_minutes * 60e6;
    const start = Math.floor(ts / width) * width;
    let byStart = this.#open.get(role);
    if (!byStart) this.#open.set(role, byStart = new Map());
    let w = byStart.get(start);
    if (!w) {
      w = new FeatureWindow(role, start, start + width);
      byStart.set(start, w);
      const close = w.end;
      if (close < this.#nextClose) this.#nextClose = close;
    }
    return w;
  }

  /** Closes windows whose end is at or before `t`, by end then role: a fixed order. */
  #closeUntil(t: number, sink: FeatureSink): void {
    const due: FeatureWindow[] = [];
    for (const byStart of this.#open.values()) {
      for (const w of byStart.values()) if (w.end <= t) due.push(w);
    }
    due.sort((a, b) => a.end - b.end || (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
    for (const w of due) {
      this.#open.get(w.role)!.delete(w.start);
      const p = this.profile(w.role);
      const at = this.clock(w.start);
      const v = w.vector(p, at);
      sink.window(w, v, p);
      p.addWindow(at, w.readObjects.size, v, this.#cfg.baseline_windows);
      if (w.readRows > p.maxReadRowsPerWindow) p.maxReadRowsPerWindow = w.readRows;
    }
    const dueEntities: [EntityWindow, EntityState][] = [];
    for (const e of this.#openEntities) {
      for (const w of e.open.values()) if (w.end <= t) dueEntities.push([w, e]);
    }
    dueEntities.sort(([a], [b]) =>
      a.end - b.end || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) ||
      (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
    );
    for (const [w, e] of dueEntities) {
      e.open.delete(w.start);
      if (e.last === w) e.last = null;
      // Addresses come and go (a guessing run from many): keep the scan over open ones short.
      if (e.open.size === 0) this.#openEntities.delete(e);
      sink.entity(w, e.history);
      e.history.addWindow(w);
    }
    this.#findNextClose();
  }

  #findNextClose(): void {
    this.#nextClose = Infinity;
    for (const byStart of this.#open.values()) {
      for (const w of byStart.values()) if (w.end < this.#nextClose) this.#nextClose = w.end;
    }
    for (const e of this.#openEntities) {
      for (const w of e.open.values()) if (w.end < this.#nextClose) this.#nextClose = w.end;
    }
  }
}
