/**
 * The WAL source's read-back of the audit configuration in force (`config_read.ts`), at start
 * and every interval, over its own plain session. The last reading is the source's saved state
 * (`SourceContext.saveState`), so a change made while Vigil was not running is seen at the next
 * start, not lost with memory.
 *
 * Events, all `system` in the source's chain:
 * - `PG_CONFIG` — the whole reading (context `reading`, `hash`): at every start, and after
 *   every change, so that the log always holds what was in force (the configuration view reads
 *   these).
 * - `PG_CONFIG_CHANGED` — changes that remove nothing (`config_judge.ts`: shape-only options,
 *   classes added, trigger state the watchdog alarms on), context `changes`.
 * - `AUDIT_REDUCED` — changes that remove something from the audit, context `changes` (every
 *   change of the reading, each with its `effect`) and `critical`; detection's
 *   `audit_reduced` rule turns it into an alert.
 *
 * A change event is stored before the reading that follows it is saved: a crash in between
 * finds the old reading at the next start and reports the change again rather than never.
 * Nothing here throws into the source: a failed reading is logged and tried next interval.
 */

import type { JsonObject, NewEvent } from "../../daemon/event/model.ts";
import { log } from "../../daemon/log.ts";
import type { SourceContext } from "../../daemon/source.ts";
import { connect, parseDsn, type PgConnection } from "../../daemon/pgwire/connection.ts";
import type { EventOrigin } from "./change_events.ts";
import { type ConfigChange, judgeChanges } from "./config_judge.ts";
import { type ConfigReading, readConfig, readingHash } from "./config_read.ts";

/** Options of {@link ConfigWatch}. */
export interface ConfigWatchOptions {
  origin: EventOrigin;
  server: string;
  dsn: string;
  publication: string;
  intervalMs: number;
  ctx: Pick<SourceContext, "emit" | "state" | "saveState">;
}

interface Saved {
  v: 1;
  hash: string;
  reading: ConfigReading;
}

/** See the module documentation. `start()` once the source runs; `stop()` after. */
export class ConfigWatch {
  readonly #opts: ConfigWatchOptions;
  #last: Saved | undefined;
  #started = false;
  #session: PgConnection | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #busy: Promise<void> | undefined;
  #stopped = false;

  constructor(opts: ConfigWatchOptions) {
    this.#opts = opts;
    this.#last = parseSaved(opts.ctx.state);
  }

  /** Reads now, then every interval. */
  start(): void {
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), this.#opts.intervalMs);
  }

  /** Stops reading; waits for a reading in progress to end. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#busy;
    await this.#session?.close().catch(() => {});
    this.#session = undefined;
  }

  #tick(): void {
    if (this.#stopped || this.#busy !== undefined) return;
    this.#busy = this.#round().finally(() => (this.#busy = undefined));
  }

  async #round(): Promise<void> {
    let reading: ConfigReading;
    try {
      this.#session ??= await connect({
        ...parseDsn(this.#opts.dsn),
        applicationName: "vigil config check",
      });
      reading = await readConfig(this.#session, this.#opts.publication);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      log("warn", "WAL source cannot read the audit configuration", {
        source: this.#opts.origin.source,
        server: this.#opts.server,
        why,
      });
      await this.#session?.close().catch(() => {});
      this.#session = undefined;
      return;
    }
    if (this.#stopped) return;
    try {
      await this.#record(reading);
    } catch (error) {
      // The source's own store failed: the source fails on its next batch too; try again later.
      const why = error instanceof Error ? error.message : String(error);
      log("warn", "WAL source cannot store its configuration reading", {
        source: this.#opts.origin.source,
        why,
      });
    }
  }

  /** Stores what the reading says against the last one, then saves it. */
  async #record(reading: ConfigReading): Promise<void> {
    const hash = readingHash(reading);
    const first = !this.#started;
    const last = this.#last;
    if (!first && last?.hash === hash) return;
    const now = Date.now() * 1000;
    const events: NewEvent[] = [];
    if (last !== undefined && last.hash !== hash) {
      const changes = judgeChanges(last.reading, reading);
      const whileStopped = first;
      if (changes.length > 0) events.push(this.#changeEvent(changes, whileStopped, now));
    }
    events.push(this.#event("PG_CONFIG", undefined, { hash, reading: asJson(reading) }, now));
    await this.#opts.ctx.emit({ events });
    this.#started = true;
    const saved: Saved = { v: 1, hash, reading };
    await this.#opts.ctx.saveState?.(JSON.stringify(saved));
    this.#last = saved;
  }

  #changeEvent(changes: ConfigChange[], whileStopped: boolean, now: number): NewEvent {
    const reduced = changes.filter((c) => c.effect === "reduced");
    const critical = reduced.some((c) => c.critical);
    const { origin, server } = this.#opts;
    const when = whileStopped ? "while Vigil was not reading it" : "since the last reading";
    const context: JsonObject = {
      changes: changes.map((c) => asJson(c)),
      while_stopped: whileStopped,
    };
    if (reduced.length === 0) {
      const items = changes.map((c) => c.item).join(", ");
      return this.#event(
        "PG_CONFIG_CHANGED",
        `The audit configuration of database "${origin.db}" on ${server} changed ${when}: ` +
          `${items} (nothing removed from the audit)`,
        context,
        now,
      );
    }
    context.critical = critical;
    const what = reduced.map((c) =>
      `${c.item}: ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)} (${c.why ?? "reduced"})`
    ).join("; ");
    return this.#event(
      "AUDIT_REDUCED",
      `Auditing of database "${origin.db}" on ${server} was reduced ${when}: ${what}`,
      context,
      now,
    );
  }

  #event(
    command: string,
    error: string | undefined,
    context: JsonObject,
    ts: number,
  ): NewEvent {
    const ev: NewEvent = {
      ts,
      source: this.#opts.origin.source,
      kind: "system",
      db: this.#opts.origin.db,
      command,
    };
    if (error !== undefined) ev.error = error;
    ev.context = context;
    return ev;
  }
}

function parseSaved(state: string | undefined): Saved | undefined {
  if (state === undefined) return undefined;
  try {
    const saved = JSON.parse(state) as Saved;
    return saved?.v === 1 && typeof saved.hash === "string" ? saved : undefined;
  } catch {
    return undefined; // Another kind of state, or none usable: this start reads afresh.
  }
}

function asJson(value: unknown): JsonObject {
  return JSON.parse(JSON.stringify(value)) as JsonObject;
}
