/**
 * The two channels of each database as the coverage join (`join.ts`) sees them: which sources
 * are its WAL and its log, each source's event time (the channels lag differently, so each is
 * judged on its own time), when both were first heard (evidence from before is not judged), and
 * whether one has gone quiet while the other shows writes. Memory follows the databases and
 * sources, not the events.
 */

import type { CoverageFinding } from "./finding.ts";

/** Times of the channels of every database; see the module documentation. */
export class Channels {
  /** Database → its WAL source, and its log sources. */
  readonly #walDbs = new Map<string, string>();
  readonly #logDbs = new Map<string, Set<string>>();
  /** When both channels of a database were first heard. */
  readonly #since = new Map<string, number>();
  /** Latest event time per source. */
  readonly #clock = new Map<string, number>();
  /** Latest WAL write and log write time per database. */
  readonly #walWrite = new Map<string, number>();
  readonly #logWrite = new Map<string, number>();
  /** Quiet channels already reported: `commits|db` or `log|db`. */
  readonly #quietSaid = new Set<string>();

  /** Moves the source's time to the event's. */
  tick(source: string, ts: number): void {
    this.#clock.set(source, Math.max(this.#clock.get(source) ?? -Infinity, ts));
  }

  /** An event of `db` from `source` on one channel. */
  heard(db: string, source: string, channel: "commits" | "log", ts: number): void {
    if (channel === "commits") this.#walDbs.set(db, source);
    else {
      let s = this.#logDbs.get(db);
      if (s === undefined) this.#logDbs.set(db, s = new Set());
      s.add(source);
    }
    this.#quietSaid.delete(`${channel}|${db}`);
    if (!this.#since.has(db) && this.paired(db)) this.#since.set(db, ts);
  }

  /** A write of `db` seen on one channel at `ts`. */
  wrote(db: string, channel: "commits" | "log", ts: number): void {
    const m = channel === "commits" ? this.#walWrite : this.#logWrite;
    m.set(db, Math.max(m.get(db) ?? -Infinity, ts));
  }

  /** Every source's time to the end: judge everything pending. */
  end(): void {
    for (const k of this.#clock.keys()) this.#clock.set(k, Infinity);
  }

  /** The latest time of the log sources that watch `db`; -Infinity before any. */
  logClock(db: string): number {
    let t = -Infinity;
    for (const s of this.#logDbs.get(db) ?? []) t = Math.max(t, this.#clock.get(s) ?? -Infinity);
    return t;
  }

  /** The latest time of the WAL source of `db`; -Infinity before any. */
  walClock(db: string): number {
    const s = this.#walDbs.get(db);
    return s === undefined ? -Infinity : this.#clock.get(s) ?? -Infinity;
  }

  /** Whether both channels of `db` have been heard. */
  paired(db: string): boolean {
    return this.#walDbs.has(db) && this.#logDbs.has(db);
  }

  /** Whether evidence of `db` at `ts` is judged: both channels were there by then. */
  judged(db: string, ts: number): boolean {
    const since = this.#since.get(db);
    return since !== undefined && ts >= since;
  }

  /** One channel silent for `quietUs` while the other wrote: once until it speaks again. */
  judgeQuiet(quietUs: number, out: (f: CoverageFinding) => void): void {
    for (const db of this.#walDbs.keys()) {
      if (!this.paired(db)) continue;
      const walWrite = this.#walWrite.get(db) ?? -Infinity;
      const logWrite = this.#logWrite.get(db) ?? -Infinity;
      if (walWrite > this.logClock(db) + quietUs && !this.#quietSaid.has(`log|${db}`)) {
        this.#quietSaid.add(`log|${db}`);
        out({ kind: "quiet", db, ts: walWrite, seqs: [], channel: "log" });
      }
      if (logWrite > this.walClock(db) + quietUs && !this.#quietSaid.has(`commits|${db}`)) {
        this.#quietSaid.add(`commits|${db}`);
        out({ kind: "quiet", db, ts: logWrite, seqs: [], channel: "commits" });
      }
    }
  }

  /** The state as a JSON value (an infinite time is saved as null, read back as -Infinity). */
  save(): unknown {
    return {
      walDbs: [...this.#walDbs],
      logDbs: [...this.#logDbs].map(([db, s]) => [db, [...s]]),
      since: [...this.#since],
      clock: [...this.#clock],
      walWrite: [...this.#walWrite],
      logWrite: [...this.#logWrite],
      quietSaid: [...this.#quietSaid],
    };
  }

  /** Takes back what `save` returned (into a new instance). */
  load(state: unknown): void {
    // deno-lint-ignore no-explicit-any
    const o = state as any;
    for (const [k, v] of o.walDbs) this.#walDbs.set(k, v);
    for (const [k, v] of o.logDbs) this.#logDbs.set(k, new Set(v));
    for (const [k, v] of o.since) this.#since.set(k, v);
    for (const [k, v] of o.clock) this.#clock.set(k, v ?? -Infinity);
    for (const [k, v] of o.walWrite) this.#walWrite.set(k, v ?? -Infinity);
    for (const [k, v] of o.logWrite) this.#logWrite.set(k, v ?? -Infinity);
    for (const k of o.quietSaid) this.#quietSaid.add(k);
  }
}
