/**
 * What an auditor asks first: is the trail intact, and is it complete? Verification on demand
 * (the whole store, as `vigil verify` does, recorded with who ran it and what it found), and
 * coverage: per source how many events in a period, from when to when, and the gaps the sources
 * reported — `system` events such as `WAL_GAP`, a heartbeat that did not come back, a dropped
 * DDL trigger, or a pgAudit setting turned down.
 */

import type { VerifyRun } from "../daemon/access/mod.ts";
import type { AuditEvent } from "../daemon/event/model.ts";
import { describePlace } from "../daemon/store/errors.ts";
import { verifyStore } from "../daemon/store/verify.ts";
import { log } from "../daemon/log.ts";
import type { WebDeps } from "./deps.ts";
import { UI_SOURCE } from "./audit_trail.ts";
import { countEvents, edgeEvent, MAX_PAGE, searchEvents } from "./search.ts";
import { GAP_COMMANDS } from "../plugins/mod.ts";

/**
 * Whether a system event reports a gap, a recovery, or neither: by the one list detection
 * alarms on (the core's commands and every source plugin's, `daemon/detect/gap_commands.ts`).
 */
export function gapKind(e: AuditEvent): "gap" | "recovery" | null {
  if (e.kind !== "system") return null;
  if (e.command !== undefined && GAP_COMMANDS.gap.has(e.command)) return "gap";
  if (e.command !== undefined && GAP_COMMANDS.recovery.has(e.command)) return "recovery";
  if (e.context?.audit_reduced === true) return "gap";
  return null;
}

/** Most gap events a list holds; past it the list says how many it left out. */
export const MAX_GAPS = 10_000;

/** The gaps of a period. */
export interface GapList {
  /** Gap and recovery events, newest first: all of them, or the newest `MAX_GAPS`. */
  events: AuditEvent[];
  /** How many the period holds: more than `events.length` when the list was cut. */
  total: number;
}

/**
 * Gap and recovery events in [from, to) (µs) among the first `upTo` events. Every `system`
 * event of the period is looked at, a page at a time, so no gap is left out however many other
 * system events the period holds; only the gaps themselves are kept, at most `max` (default
 * {@link MAX_GAPS}), and `total` counts them all.
 */
export async function gapEvents(
  deps: WebDeps,
  period: { from?: number | undefined; to?: number | undefined },
  upTo: number = deps.store.size,
  opts: { max?: number } = {},
): Promise<GapList> {
  const max = opts.max ?? MAX_GAPS;
  const filter: { kind: "system"; from?: number; to?: number } = { kind: "system" };
  if (period.from !== undefined) filter.from = period.from;
  if (period.to !== undefined) filter.to = period.to;
  const events: AuditEvent[] = [];
  let total = 0;
  let before: number | undefined;
  for (;;) {
    const page = await searchEvents(deps, { filter, before, limit: MAX_PAGE }, upTo);
    for (const e of page.events) {
      if (gapKind(e) === null) continue;
      total++;
      if (events.length < max) events.push(e);
    }
    if (page.next === null) return { events, total };
    before = page.next;
  }
}

/** What was collected from one source in a period. */
export interface Coverage {
  source: string;
  events: number;
  /** Event times (µs) of the first and last event, or null when none. */
  first: number | null;
  last: number | null;
}

/** The sources worth listing: configured ones, application tokens and the UI itself. */
export function knownSources(deps: WebDeps): string[] {
  const names = new Set(deps.status.current().sources.map((s) => s.name));
  for (const t of deps.access.tokens.list()) names.add(t.name);
  names.add(UI_SOURCE);
  return [...names].sort();
}

/**
 * Per source counts and time span in [from, to) (µs): counted by the index where it can vouch
 * for its rows, the first and last event read from the log; null without an index (counting
 * would mean reading the whole log).
 */
export async function coverage(
  deps: WebDeps,
  period: { from: number; to: number },
  upTo: number = deps.store.size,
): Promise<Coverage[] | null> {
  if (!deps.index) return null;
  const out: Coverage[] = [];
  for (const source of knownSources(deps)) {
    const f = { source, from: period.from, to: period.to };
    const events = await countEvents(deps, f, upTo);
    if (events === 0) {
      out.push({ source, events, first: null, last: null });
      continue;
    }
    const first = (await edgeEvent(deps, f, "asc", upTo))?.ts ?? null;
    const last = (await edgeEvent(deps, f, "desc", upTo))?.ts ?? null;
    out.push({ source, events, first, last });
  }
  return out;
}

/** Runs whole-store verifications, one at a time, and records each result. */
export class Verifier {
  #deps: WebDeps;
  #running: { by: string; since: number; done: Promise<VerifyRun> } | null = null;

  constructor(deps: WebDeps) {
    this.#deps = deps;
  }

  /** The run in progress, if any. */
  get running(): { by: string; since: number } | null {
    return this.#running ? { by: this.#running.by, since: this.#running.since } : null;
  }

  /** Starts a run (or joins the one in progress); resolves with its recorded result. */
  start(by: string, onDone: (run: VerifyRun) => Promise<void>): Promise<VerifyRun> {
    if (this.#running) return this.#running.done;
    const now = this.#deps.now ?? Date.now;
    const since = now();
    const done = (async (): Promise<VerifyRun> => {
      let run: VerifyRun;
      try {
        const report = await verifyStore(this.#deps.store.dataDir);
        run = {
          startedAt: since,
          finishedAt: now(),
          ok: report.ok,
          events: report.events,
          checkpoints: report.checkpoints,
          problem: report.problem
            ? `${report.problem.reason} at ${describePlace(report.problem.place)}`
            : null,
          byUser: by,
        };
      } catch (e) {
        run = {
          startedAt: since,
          finishedAt: now(),
          ok: false,
          events: 0,
          checkpoints: 0,
          problem: `verification could not run: ${(e as Error).message}`,
          byUser: by,
        };
      }
      this.#deps.access.verifyRuns.record(run);
      try {
        await onDone(run);
      } catch (e) {
        log("error", "cannot record the verification result in the chain", {
          error: String(e),
        });
      }
      return run;
    })().finally(() => {
      this.#running = null;
    });
    this.#running = { by, since, done };
    return done;
  }
}
