/**
 * The record of `verify` runs started from the UI: when, by whom, and what they found. The
 * Management page and the evidence pack show the latest; each run is also an event in the chain.
 */

import type { DatabaseSync } from "node:sqlite";

/** One finished verification. */
export interface VerifyRun {
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly ok: boolean;
  readonly events: number;
  readonly checkpoints: number;
  /** The first problem found, in words; null when intact. */
  readonly problem: string | null;
  readonly byUser: string;
}

type Row = Record<string, unknown>;

function toRun(r: Row): VerifyRun {
  return {
    startedAt: Number(r.started_at),
    finishedAt: Number(r.finished_at),
    ok: Number(r.ok) !== 0,
    events: Number(r.events),
    checkpoints: Number(r.checkpoints),
    problem: r.problem == null ? null : String(r.problem),
    byUser: String(r.by_user),
  };
}

/** The verify_runs table. */
export class VerifyRuns {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Records a finished run. */
  record(run: VerifyRun): void {
    this.#db.prepare(
      "INSERT INTO verify_runs (started_at, finished_at, ok, events, checkpoints, problem, " +
        "by_user) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ).run(
      run.startedAt,
      run.finishedAt,
      run.ok ? 1 : 0,
      run.events,
      run.checkpoints,
      run.problem,
      run.byUser,
    );
  }

  /** The latest run, or null when none was recorded. */
  latest(): VerifyRun | null {
    const r = this.#db.prepare("SELECT * FROM verify_runs ORDER BY id DESC LIMIT 1").get();
    return r ? toRun(r) : null;
  }

  /** Runs that finished within [from, to) (ms), newest first. */
  between(from: number, to: number): VerifyRun[] {
    return this.#db.prepare(
      "SELECT * FROM verify_runs WHERE finished_at >= ? AND finished_at < ? ORDER BY id DESC",
    ).all(from, to).map(toRun);
  }
}
