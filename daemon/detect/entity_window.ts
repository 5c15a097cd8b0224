/**
 * Feature windows of what is not a role: one client address, and one application on one
 * database. A role's windows say what a principal did; these say what a place did across
 * principals — one address used by many roles, one application (new, or far above its usual
 * volume) hammering a database — which no single role's window shows. Their histories are kept
 * like a role's, by the same event-time windows, so batch and incremental detection agree.
 */

import type { AuditEvent } from "../event/model.ts";
import { MAX_SEQS } from "./alert.ts";
import type { EventClass } from "./event_facts.ts";
import { bump, top } from "./window.ts";

/** What an entity window is keyed by. */
export type EntityKind = "client_addr" | "application";

/** The activity at one client address, or of one application on one database, in a window. */
export class EntityWindow {
  readonly kind: EntityKind;
  /** The address, or `application@database`. */
  readonly key: string;
  readonly start: number;
  readonly end: number;
  firstTs = Infinity;
  lastTs = -Infinity;
  statements = 0;
  reads = 0;
  writes = 0;
  ddl = 0;
  failedLogins = 0;
  /** Roles active here the entity's history never saw. */
  newRoles = 0;
  /** Events per role. */
  readonly roles = new Map<string, number>();
  readonly objects = new Set<string>();
  readonly addrs = new Map<string, number>();
  readonly dbs = new Map<string, number>();
  readonly seqs: number[] = [];

  constructor(kind: EntityKind, key: string, start: number, end: number) {
    this.kind = kind;
    this.key = key;
    this.start = start;
    this.end = end;
  }

  /** Counts one event of `role`; `newRole` when the entity's history lacked the role. */
  add(seq: number, ev: AuditEvent, role: string, c: EventClass, newRole: boolean): void {
    const ts = ev.ts;
    if (ts < this.firstTs) this.firstTs = ts;
    if (ts > this.lastTs) this.lastTs = ts;
    if (!c.failedLogin) this.statements++;
    if (c.read) this.reads++;
    if (c.write) this.writes++;
    if (c.ddl) this.ddl++;
    if (c.failedLogin) this.failedLogins++;
    const n = this.roles.get(role);
    if (n === undefined && newRole) this.newRoles++;
    this.roles.set(role, (n ?? 0) + 1);
    if (ev.object !== undefined) this.objects.add(ev.object);
    // An address window's address and an application window's database are its key.
    if (this.kind === "application") bump(this.addrs, ev.client_addr);
    else bump(this.dbs, ev.db);
    if (this.seqs.length < MAX_SEQS) this.seqs.push(seq);
  }

  /** The most active role (ties: the first by name), the address and database seen most. */
  get mainRole(): string {
    return top(this.roles) ?? "";
  }
  get mainAddr(): string | undefined {
    return this.kind === "client_addr" ? this.key : top(this.addrs);
  }
  get mainDb(): string | undefined {
    return this.kind === "application"
      ? this.key.slice(this.key.lastIndexOf("@") + 1)
      : top(this.dbs);
  }
}

/** The learned history of one address, or one application on one database. */
export class EntityProfile {
  readonly kind: EntityKind;
  readonly key: string;
  /** Every role seen here. */
  readonly roles = new Set<string>();
  windows = 0;
  /** The most distinct roles, and the most statements, of one window so far. */
  maxRoles = 0;
  maxStatements = 0;

  constructor(kind: EntityKind, key: string) {
    this.kind = kind;
    this.key = key;
  }

  /** Adds a closed window to the history. */
  addWindow(w: EntityWindow): void {
    this.windows++;
    if (w.roles.size > this.maxRoles) this.maxRoles = w.roles.size;
    if (w.statements > this.maxStatements) this.maxStatements = w.statements;
  }
}
