/**
 * One feature window: what one role did in one slice of event time — statements by class and
 * command, objects, first-time and sensitive objects, DDL, role changes, failed logins, new
 * addresses, errors — and the feature vector the models score.
 */

import type { AuditEvent } from "../event/model.ts";
import { MAX_SEQS } from "./alert.ts";
import type { LocalTime } from "./clock.ts";
import type { EventClass } from "./event_facts.ts";
import type { RoleProfile } from "./profile.ts";

/** Names of the vector's features, in order: reasons quote them. */
export const FEATURE_NAMES = [
  "statements",
  "reads",
  "writes",
  "ddl",
  "role_changes",
  "distinct_objects",
  "first_time_objects",
  "sensitive_accesses",
  "failed_logins",
  "new_client_addrs",
  "new_apps_or_dbs",
  "hour_rarity",
  "weekday_rarity",
  "error_rate",
] as const;

/** Per-event facts that depend on the role's history. */
export interface HistoryFacts {
  firstTimeObject: boolean;
  newAddr: boolean;
  /** An application or database the role never used before. */
  newAppOrDb: boolean;
  sensitive: boolean;
}

/** Counts one more `k` in `m` (nothing for an absent key). */
export function bump(m: Map<string, number>, k: string | undefined): void {
  if (k !== undefined) m.set(k, (m.get(k) ?? 0) + 1);
}

/** The most counted key of `m`, the smallest on a tie: a fixed answer whatever the order. */
export function top(m: Map<string, number>): string | undefined {
  let best: string | undefined;
  let n = -1;
  for (const [k, v] of m) {
    if (v > n || (v === n && k < best!)) [best, n] = [k, v];
  }
  return best;
}

/** The activity of one role in one window. */
export class FeatureWindow {
  readonly role: string;
  readonly start: number;
  readonly end: number;
  firstTs = Infinity;
  lastTs = -Infinity;
  statements = 0;
  reads = 0;
  writes = 0;
  ddl = 0;
  roleChanges = 0;
  failedLogins = 0;
  errors = 0;
  firstTimeObjects = 0;
  sensitive = 0;
  newAddrs = 0;
  newAppsOrDbs = 0;
  readonly objects = new Set<string>();
  readonly readObjects = new Set<string>();
  /** Rows read, as pgAudit's `log_rows` counted them; 0 without it. */
  readRows = 0;
  /** Statements by pgAudit class and by command. */
  readonly classes = new Map<string, number>();
  readonly commands = new Map<string, number>();
  readonly addrs = new Map<string, number>();
  readonly dbs = new Map<string, number>();
  readonly apps = new Map<string, number>();
  readonly seqs: number[] = [];

  constructor(role: string, start: number, end: number) {
    this.role = role;
    this.start = start;
    this.end = end;
  }

  /** Counts one event. */
  add(seq: number, ev: AuditEvent, c: EventClass, h: HistoryFacts): void {
    if (ev.ts < this.firstTs) this.firstTs = ev.ts;
    if (ev.ts > this.lastTs) this.lastTs = ev.ts;
    if (!c.failedLogin) this.statements++;
    if (c.read) this.reads++;
    if (c.write) this.writes++;
    if (c.ddl) this.ddl++;
    if (c.roleChange) this.roleChanges++;
    if (c.failedLogin) this.failedLogins++;
    if (c.error) this.errors++;
    if (h.firstTimeObject) this.firstTimeObjects++;
    if (h.sensitive) this.sensitive++;
    if (h.newAddr) this.newAddrs++;
    if (h.newAppOrDb) this.newAppsOrDbs++;
    if (ev.object !== undefined) {
      this.objects.add(ev.object);
      if (c.read) this.readObjects.add(ev.object);
    }
    if (c.read && ev.rows !== undefined) this.readRows += ev.rows;
    bump(this.classes, ev.class);
    bump(this.commands, ev.command);
    bump(this.addrs, ev.client_addr);
    bump(this.dbs, ev.db);
    bump(this.apps, ev.application_name);
    if (this.seqs.length < MAX_SEQS) this.seqs.push(seq);
  }

  /** The client address, database and application seen most in the window. */
  get mainAddr(): string | undefined {
    return top(this.addrs);
  }
  get mainDb(): string | undefined {
    return top(this.dbs);
  }
  get mainApp(): string | undefined {
    return top(this.apps);
  }

  /** The feature vector, relative to the role's history before this window starting at `at`. */
  vector(p: RoleProfile, at: LocalTime): number[] {
    const seen = p.windows > 0;
    const all = this.statements + this.failedLogins;
    return [
      Math.log1p(this.statements),
      Math.log1p(this.reads),
      Math.log1p(this.writes),
      Math.log1p(this.ddl),
      Math.log1p(this.roleChanges),
      Math.log1p(this.objects.size),
      Math.log1p(this.firstTimeObjects),
      Math.log1p(this.sensitive),
      Math.log1p(this.failedLogins),
      Math.log1p(this.newAddrs),
      Math.log1p(this.newAppsOrDbs),
      seen ? 1 - Math.min(1, p.hourShare(at.hour) * 24) : 0,
      seen ? 1 - Math.min(1, p.weekdayShare(at.weekday) * 7) : 0,
      all === 0 ? 0 : this.errors / all,
    ];
  }
}
