/**
 * A role's history as detection learned it from earlier events: when it works, from where, what
 * it touches, whether it ever ran DDL, and its rolling baseline of window feature vectors. Rules
 * ask "is this new for this role?" and the models train on the baseline.
 */

import type { LocalTime } from "./clock.ts";

const DAY_US = 86_400_000_000;
const WEEK_US = 7 * DAY_US;

/** The learned history of one role. */
export class RoleProfile {
  readonly role: string;
  firstTs = Infinity;
  lastTs = -Infinity;
  events = 0;
  ddlEvents = 0;
  readonly addrs = new Set<string>();
  /** Applications and databases the role was seen using. */
  readonly apps = new Set<string>();
  readonly dbs = new Set<string>();
  readonly objects = new Set<string>();
  /** Active windows per hour of day and per weekday (0 = Sunday), on the site's clock. */
  readonly hourWindows: number[] = new Array(24).fill(0);
  readonly weekdayWindows: number[] = new Array(7).fill(0);
  windows = 0;
  maxObjectsPerWindow = 0;
  /** The most rows read in one window (pgAudit's `log_rows`). */
  maxReadRowsPerWindow = 0;
  /** Event times of first-time object reads, for the rolling weekly count. */
  #newObjectTimes: number[] = [];
  /** Rolling baseline of window feature vectors, oldest first. */
  readonly baseline: number[][] = [];

  constructor(role: string) {
    this.role = role;
  }

  /** Days between the role's first event and `ts`. */
  historyDays(ts: number): number {
    return this.firstTs === Infinity ? 0 : (ts - this.firstTs) / DAY_US;
  }

  /** Share of the role's active windows that fell in this hour of day. */
  hourShare(hour: number): number {
    return this.windows === 0 ? 0 : this.hourWindows[hour]! / this.windows;
  }

  /** Share of the role's active windows that fell on this weekday. */
  weekdayShare(day: number): number {
    return this.windows === 0 ? 0 : this.weekdayWindows[day]! / this.windows;
  }

  /** Records a first-time object read at `ts`; returns how many fell in the last 7 days. */
  noteNewObject(ts: number): number {
    this.#newObjectTimes.push(ts);
    while (this.#newObjectTimes.length > 0 && this.#newObjectTimes[0]! <= ts - WEEK_US) {
      this.#newObjectTimes.shift();
    }
    return this.#newObjectTimes.length;
  }

  /** Event times of the first-time object reads still within the last 7 days, oldest first. */
  get newObjectTimes(): readonly number[] {
    return this.#newObjectTimes;
  }

  /** Puts back what `newObjectTimes` held: a role history read from a snapshot. */
  restoreNewObjectTimes(times: readonly number[]): void {
    this.#newObjectTimes = [...times];
  }

  /** Adds a closed window, starting at local time `at`, to the history. */
  addWindow(at: LocalTime, objects: number, vector: number[], keep: number): void {
    this.hourWindows[at.hour]!++;
    this.weekdayWindows[at.weekday]!++;
    this.windows++;
    if (objects > this.maxObjectsPerWindow) this.maxObjectsPerWindow = objects;
    this.baseline.push(vector);
    if (this.baseline.length > keep) this.baseline.splice(0, this.baseline.length - keep);
  }
}
