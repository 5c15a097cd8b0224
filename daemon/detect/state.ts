/**
 * The learned state of detection as plain JSON values: role histories, open windows, address
 * and application histories, incidents being merged. What the snapshot (`snapshot.ts`) writes
 * and reads back, so that a daemon resumes where it stopped instead of replaying the log.
 *
 * Promises: `loadX(saveX(v))` rebuilds a value that behaves exactly like `v` for every later
 * event (same counts, same sets and maps, in the same insertion order); nothing here grows with
 * the number of events seen, only with the roles, objects, addresses and windows kept. Event
 * times that may be ±Infinity (a history with no event yet) are written as strings, since JSON
 * has no such numbers. A value of the wrong shape throws `SyntaxError`.
 */

import type { AlertAck } from "./alert.ts";
import type { Incident } from "./dedup.ts";
import { type EntityKind, EntityProfile, EntityWindow } from "./entity_window.ts";
import { RoleProfile } from "./profile.ts";
import { FeatureWindow } from "./window.ts";

/** A JSON object as read back: fields are checked as they are used. */
type Obj = Record<string, unknown>;

/** An event time or bound that may be infinite, as JSON. */
export function encTime(x: number): number | string {
  return Number.isFinite(x) ? x : String(x);
}

/** Reads back what `encTime` wrote. */
export function decTime(v: unknown): number {
  if (typeof v === "number") return v;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  throw new SyntaxError(`Cannot read detection state: ${JSON.stringify(v)} is not a time`);
}

/** A finite number, or a SyntaxError naming the field. */
export function num(o: Obj, k: string): number {
  const v = o[k];
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new SyntaxError(`Cannot read detection state: ${k} is not a number`);
  }
  return v;
}

/** A string, or a SyntaxError naming the field. */
export function str(o: Obj, k: string): string {
  const v = o[k];
  if (typeof v !== "string") throw new SyntaxError(`Cannot read detection state: ${k} is no text`);
  return v;
}

/** An array, or a SyntaxError naming the field. */
export function list(o: Obj, k: string): unknown[] {
  const v = o[k];
  if (!Array.isArray(v)) throw new SyntaxError(`Cannot read detection state: ${k} is no list`);
  return v;
}

/** A JSON object, or a SyntaxError. */
export function obj(v: unknown, what: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new SyntaxError(`Cannot read detection state: ${what} is not an object`);
  }
  return v as Obj;
}

function fill<T>(into: Set<T>, from: unknown[]): void {
  for (const x of from) into.add(x as T);
}

function fillMap(into: Map<string, number>, from: unknown[]): void {
  for (const e of from) {
    const [k, v] = e as [string, number];
    into.set(k, v);
  }
}

/** A role's history. */
export function saveProfile(p: RoleProfile): Obj {
  return {
    role: p.role,
    firstTs: encTime(p.firstTs),
    lastTs: encTime(p.lastTs),
    events: p.events,
    ddlEvents: p.ddlEvents,
    addrs: [...p.addrs],
    apps: [...p.apps],
    dbs: [...p.dbs],
    objects: [...p.objects],
    hourWindows: p.hourWindows,
    weekdayWindows: p.weekdayWindows,
    windows: p.windows,
    maxObjectsPerWindow: p.maxObjectsPerWindow,
    maxReadRowsPerWindow: p.maxReadRowsPerWindow,
    newObjectTimes: p.newObjectTimes,
    baseline: p.baseline,
  };
}

export function loadProfile(o: Obj): RoleProfile {
  const p = new RoleProfile(str(o, "role"));
  p.firstTs = decTime(o.firstTs);
  p.lastTs = decTime(o.lastTs);
  p.events = num(o, "events");
  p.ddlEvents = num(o, "ddlEvents");
  fill(p.addrs, list(o, "addrs"));
  fill(p.apps, list(o, "apps"));
  fill(p.dbs, list(o, "dbs"));
  fill(p.objects, list(o, "objects"));
  const hours = list(o, "hourWindows");
  const days = list(o, "weekdayWindows");
  if (hours.length !== 24 || days.length !== 7) {
    throw new SyntaxError("Cannot read detection state: a role's hour or weekday counts");
  }
  hours.forEach((n, i) => (p.hourWindows[i] = n as number));
  days.forEach((n, i) => (p.weekdayWindows[i] = n as number));
  p.windows = num(o, "windows");
  p.maxObjectsPerWindow = num(o, "maxObjectsPerWindow");
  // Absent from snapshots written before row counts were kept.
  p.maxReadRowsPerWindow = o.maxReadRowsPerWindow === undefined
    ? 0
    : num(o, "maxReadRowsPerWindow");
  p.restoreNewObjectTimes(list(o, "newObjectTimes") as number[]);
  for (const v of list(o, "baseline")) p.baseline.push(v as number[]);
  return p;
}

/** One open window of a role. */

/** A window's counters, in the order a snapshot stores them. */
const WINDOW_COUNTS = [
  "statements",
  "reads",
  "writes",
  "ddl",
  "roleChanges",
  "failedLogins",
  "errors",
  "firstTimeObjects",
  "sensitive",
  "newAddrs",
  "newAppsOrDbs",
] as const;

export function saveWindow(w: FeatureWindow): Obj {
  return {
    role: w.role,
    start: w.start,
    end: w.end,
    firstTs: encTime(w.firstTs),
    lastTs: encTime(w.lastTs),
    n: WINDOW_COUNTS.map((k) => w[k]),
    objects: [...w.objects],
    readObjects: [...w.readObjects],
    readRows: w.readRows,
    classes: [...w.classes],
    commands: [...w.commands],
    addrs: [...w.addrs],
    dbs: [...w.dbs],
    apps: [...w.apps],
    seqs: w.seqs,
  };
}

export function loadWindow(o: Obj): FeatureWindow {
  const w = new FeatureWindow(str(o, "role"), num(o, "start"), num(o, "end"));
  w.firstTs = decTime(o.firstTs);
  w.lastTs = decTime(o.lastTs);
  const n = list(o, "n") as number[];
  if (n.length !== WINDOW_COUNTS.length) {
    throw new SyntaxError("Cannot read detection state: a window's counts");
  }
  WINDOW_COUNTS.forEach((k, i) => (w[k] = n[i]!));
  fill(w.objects, list(o, "objects"));
  fill(w.readObjects, list(o, "readObjects"));
  if (o.readRows !== undefined) w.readRows = num(o, "readRows");
  fillMap(w.classes, list(o, "classes"));
  fillMap(w.commands, list(o, "commands"));
  fillMap(w.addrs, list(o, "addrs"));
  fillMap(w.dbs, list(o, "dbs"));
  fillMap(w.apps, list(o, "apps"));
  for (const s of list(o, "seqs")) w.seqs.push(s as number);
  return w;
}

/** The history of an address or application. */
export function saveEntityProfile(h: EntityProfile): Obj {
  return {
    kind: h.kind,
    key: h.key,
    roles: [...h.roles],
    windows: h.windows,
    maxRoles: h.maxRoles,
    maxStatements: h.maxStatements,
  };
}

function entityKind(o: Obj): EntityKind {
  const k = str(o, "kind");
  if (k !== "client_addr" && k !== "application") {
    throw new SyntaxError(`Cannot read detection state: unknown entity kind ${k}`);
  }
  return k;
}

export function loadEntityProfile(o: Obj): EntityProfile {
  const h = new EntityProfile(entityKind(o), str(o, "key"));
  fill(h.roles, list(o, "roles"));
  h.windows = num(o, "windows");
  h.maxRoles = num(o, "maxRoles");
  h.maxStatements = num(o, "maxStatements");
  return h;
}

/** One open window of an address or application. */
export function saveEntityWindow(w: EntityWindow): Obj {
  return {
    kind: w.kind,
    key: w.key,
    start: w.start,
    end: w.end,
    firstTs: encTime(w.firstTs),
    lastTs: encTime(w.lastTs),
    n: [w.statements, w.reads, w.writes, w.ddl, w.failedLogins, w.newRoles],
    roles: [...w.roles],
    objects: [...w.objects],
    addrs: [...w.addrs],
    dbs: [...w.dbs],
    seqs: w.seqs,
  };
}

export function loadEntityWindow(o: Obj): EntityWindow {
  const w = new EntityWindow(entityKind(o), str(o, "key"), num(o, "start"), num(o, "end"));
  w.firstTs = decTime(o.firstTs);
  w.lastTs = decTime(o.lastTs);
  const n = list(o, "n") as number[];
  if (n.length !== 6) throw new SyntaxError("Cannot read detection state: a window's counts");
  [w.statements, w.reads, w.writes, w.ddl, w.failedLogins, w.newRoles] = n as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  fillMap(w.roles, list(o, "roles"));
  fill(w.objects, list(o, "objects"));
  fillMap(w.addrs, list(o, "addrs"));
  fillMap(w.dbs, list(o, "dbs"));
  for (const s of list(o, "seqs")) w.seqs.push(s as number);
  return w;
}

/** An incident still open to merging: a plain object already, checked on the way back. */
export function loadIncident(o: Obj): Incident {
  str(o, "key");
  str(o, "rule");
  num(o, "ts_from");
  num(o, "ts_to");
  num(o, "count");
  list(o, "seqs");
  list(o, "features");
  return o as unknown as Incident;
}

/** An acknowledgement read before its alert was found. */
export function loadAck(o: Obj): AlertAck {
  return { by: str(o, "by"), note: str(o, "note"), ts: num(o, "ts"), seq: num(o, "seq") };
}
