/**
 * The one interface every detector implements. A detector sees each event with the facts
 * feature extraction derived for it, and each closed feature window with its vector; it answers
 * with alert drafts. Detectors see the role's history as it was *before* the event or window,
 * so "first time" means first time. A detector with state of its own saves and loads it, so
 * that the daemon's snapshot carries it across a restart.
 */

import type { AuditEvent } from "../event/model.ts";
import type { AlertDraft } from "./alert.ts";
import type { LocalTime } from "./clock.ts";
import type { DetectConfig } from "./config.ts";
import type { EntityProfile, EntityWindow } from "./entity_window.ts";
import type { EventClass } from "./event_facts.ts";
import type { RoleProfile } from "./profile.ts";
import type { FeatureWindow, HistoryFacts } from "./window.ts";

/** Everything known about one event when detectors look at it. */
export interface EventFacts extends EventClass, HistoryFacts {
  /** First-time objects the role read in the 7 days up to this event (this one included). */
  newObjectsWeek: number;
}

/** What a detector may consult. */
export interface DetectContext {
  readonly cfg: DetectConfig;
  /** The history of the event's or window's role, before it. */
  readonly profile: RoleProfile;
  /** Every role's history, for peer-group baselines. */
  readonly profiles: ReadonlyMap<string, RoleProfile>;
  readonly isSensitive: (object: string) => boolean;
  /** Event time as hour of day and weekday on the site's clock (`timezone`). */
  readonly clock: (ts: number) => LocalTime;
  /** Days detection has watched the site by `ts` (since the first event). */
  readonly siteDays: (ts: number) => number;
}

/** A rule or a model. */
export interface Detector {
  /** The `rule` of its alerts; also the name `disabled` takes. */
  readonly name: string;
  /** Looks at one event (with a role, or a system event) as it lands. */
  event?(ev: AuditEvent, seq: number, facts: EventFacts, ctx: DetectContext): AlertDraft[];
  /** Looks at one window of a role once its event time has passed. */
  window?(w: FeatureWindow, vector: number[], ctx: DetectContext): AlertDraft[];
  /**
   * Looks at one window of a client address or of an application on a database, with its
   * history before it; `ctx.profile` is the history of the window's most active role.
   */
  entity?(w: EntityWindow, history: EntityProfile, ctx: DetectContext): AlertDraft[];
  /**
   * What the detector learned itself (beyond the histories it is handed), as a JSON value for
   * the snapshot; absent for a detector that keeps nothing. Bounded by roles and addresses.
   */
  save?(): unknown;
  /** Takes back into a new detector what `save` returned; throws on a value it cannot read. */
  load?(state: unknown): void;
}

/** A draft about one event, filled from the event's own fields. */
export function eventDraft(
  ev: AuditEvent,
  seq: number,
  d: Pick<AlertDraft, "rule" | "severity" | "score" | "reason" | "features">,
): AlertDraft {
  const out: AlertDraft = { ...d, ts_from: ev.ts, ts_to: ev.ts, role: ev.role ?? "", seqs: [seq] };
  if (ev.client_addr !== undefined) out.client_addr = ev.client_addr;
  if (ev.db !== undefined) out.db = ev.db;
  return out;
}

/** A draft about one address or application window, on behalf of its most active role. */
export function entityDraft(
  w: EntityWindow,
  d: Pick<AlertDraft, "rule" | "severity" | "score" | "reason" | "features">,
): AlertDraft {
  const out: AlertDraft = {
    ...d,
    ts_from: w.firstTs,
    ts_to: w.lastTs,
    role: w.mainRole,
    seqs: w.seqs,
  };
  const addr = w.mainAddr;
  const db = w.mainDb;
  if (addr !== undefined) out.client_addr = addr;
  if (db !== undefined) out.db = db;
  return out;
}

/** A draft about one window. */
export function windowDraft(
  w: FeatureWindow,
  d: Pick<AlertDraft, "rule" | "severity" | "score" | "reason" | "features">,
): AlertDraft {
  const out: AlertDraft = { ...d, ts_from: w.firstTs, ts_to: w.lastTs, role: w.role, seqs: w.seqs };
  const addr = w.mainAddr;
  const db = w.mainDb;
  if (addr !== undefined) out.client_addr = addr;
  if (db !== undefined) out.db = db;
  return out;
}
