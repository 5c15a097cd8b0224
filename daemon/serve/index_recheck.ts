/**
 * The search index re-checked against the log while `serve` runs (`[store] index_recheck`,
 * default every 6 hours; "0s" turns it off), as well as at start: row by row
 * (`index/recheck.ts`), so that rows changed by someone who also rewrote the tally, or who
 * dropped its triggers, are found within one interval rather than at the next restart.
 *
 * Promises: reads at most `ratePerSecond` events a second (default 20,000) and one chunk of
 * events at a time, so its I/O and memory stay bounded whatever the log's size; index damage —
 * found here, or by the start's tally check — is a `system` event `INDEX_DAMAGED` in the chain
 * (`error` naming the seq ranges; `context.check` `start` or `periodic`), the index is then
 * rebuilt from the log in the background, and `INDEX_REBUILT` follows once it has caught up.
 * What anyone sees never depended on the index (events are read from the log), so collection and
 * serving go on throughout.
 */

import type { IndexFeed } from "../index/feed.ts";
import { recheckIndex, type RecheckReport } from "../index/recheck.ts";
import type { SeqRange } from "../index/tally.ts";
import type { JsonObject, NewEvent } from "../event/model.ts";
import { log } from "../log.ts";
import type { Store } from "../store/store.ts";

/** The chain event of an index found to disagree with the log. */
export const INDEX_DAMAGED = "INDEX_DAMAGED";
/** The chain event of the index rebuilt from the log after it. */
export const INDEX_REBUILT = "INDEX_REBUILT";
/** Default time between the end of one re-check and the start of the next. */
export const INDEX_RECHECK_INTERVAL_MS = 6 * 3600_000;
/** Default pace of a re-check, events a second. */
const DEFAULT_RATE = 20_000;
/** Ranges named in an event's error and context. */
const NAMED_RANGES = 10;

/** Options of {@link IndexRecheck.start}. */
export interface IndexRecheckOptions {
  /** The source the daemon's own events are stored under. */
  source: string;
  /** Between re-checks; 0 turns the periodic re-check off (the start's is still recorded). */
  intervalMs: number;
  /** Events read a second at most. */
  ratePerSecond?: number;
}

/** What the last re-check found. */
export interface IndexRecheckStatus {
  running: boolean;
  last: { at: number; checked: number; differing: number } | null;
  nextAt: number | null;
}

/** The index re-check of one daemon. */
export class IndexRecheck {
  readonly #store: Store;
  readonly #feed: IndexFeed;
  readonly #opts: IndexRecheckOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<RecheckReport | null> | null = null;
  #stopped = false;
  #last: IndexRecheckStatus["last"] = null;
  #nextAt: number | null = null;
  #wake: (() => void) | null = null;
  /** A rebuild is under way: the feed's own close ends it, a stop does not wait for it. */
  #rebuilding = false;

  private constructor(store: Store, feed: IndexFeed, opts: IndexRecheckOptions) {
    this.#store = store;
    this.#feed = feed;
    this.#opts = opts;
  }

  /**
   * Records what the start found (the feed rebuilt the index already) and schedules the
   * periodic re-check. Call once the daemon's start is in the chain.
   */
  static async start(
    store: Store,
    feed: IndexFeed,
    opts: IndexRecheckOptions,
  ): Promise<IndexRecheck> {
    const r = new IndexRecheck(store, feed, opts);
    if (feed.foundAtStart.length > 0) {
      await r.#record(INDEX_DAMAGED, { check: "start", ...rangesContext(feed.foundAtStart) }, {
        error: describe(feed.foundAtStart),
      });
      void feed.drain().then(() => r.#rebuilt("start"));
    }
    r.#schedule();
    return r;
  }

  /** Runs a re-check now (joining one in progress); resolves with its report. */
  run(): Promise<RecheckReport | null> {
    if (this.#stopped) return Promise.resolve(null);
    this.#running ??= this.#run().finally(() => {
      this.#running = null;
      this.#schedule();
    });
    return this.#running;
  }

  status(): IndexRecheckStatus {
    return { running: this.#running !== null, last: this.#last, nextAt: this.#nextAt };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#nextAt = null;
    this.#wake?.();
    // A comparison ends after the chunk in hand; a rebuild may take long, and the index's close
    // (after this) ends its catch-up, to go on at the next start.
    if (!this.#rebuilding) await this.#running;
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#nextAt = null;
    if (this.#stopped || this.#opts.intervalMs <= 0) return;
    this.#nextAt = Date.now() + this.#opts.intervalMs;
    this.#timer = setTimeout(() => void this.run(), this.#opts.intervalMs);
  }

  async #run(): Promise<RecheckReport | null> {
    const rate = this.#opts.ratePerSecond ?? DEFAULT_RATE;
    const began = Date.now();
    let read = 0;
    // Sleeps so that `read` events take at least read / rate seconds; a stop wakes it.
    const pace = async (n: number): Promise<void> => {
      read += n;
      const ahead = began + (read / rate) * 1000 - Date.now();
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, Math.max(0, ahead));
      });
      this.#wake = null;
    };
    let report: RecheckReport;
    try {
      report = await recheckIndex(this.#store.dataDir, {
        upTo: this.#store.size,
        pace,
        stopped: () => this.#stopped,
      });
    } catch (e) {
      log("warn", "the search index re-check could not run", { error: String(e) });
      return null;
    }
    if (this.#stopped) return report;
    this.#last = { at: Date.now(), checked: report.checked, differing: report.differing };
    if (report.differing === 0) {
      log("info", "search index re-checked against the log", { events: report.checked });
      return report;
    }
    log("warn", "search index rows differ from the log; rebuilding it", {
      seq_ranges: report.ranges.slice(0, NAMED_RANGES),
      differing: report.differing,
    });
    await this.#record(INDEX_DAMAGED, {
      check: "periodic",
      checked: report.checked,
      differing: report.differing,
      ...rangesContext(report.ranges),
    }, { error: describe(report.ranges, report.differing) });
    this.#rebuilding = true;
    try {
      await this.#feed.rebuild();
    } catch (e) {
      log("error", "the search index could not be rebuilt", { error: String(e) });
      return report;
    } finally {
      this.#rebuilding = false;
    }
    await this.#rebuilt("periodic");
    return report;
  }

  async #rebuilt(check: string): Promise<void> {
    if (this.#stopped) return;
    await this.#record(INDEX_REBUILT, { check, lag: this.#feed.lag() });
  }

  /** Appends one system event; a store that cannot take it is logged, not thrown. */
  async #record(command: string, context: JsonObject, extra: { error?: string } = {}) {
    const source = this.#opts.source;
    const ev: NewEvent = { ts: Date.now() * 1000, source, kind: "system", command, context };
    if (extra.error !== undefined) ev.error = extra.error;
    try {
      await this.#store.append({ source, events: [ev] });
    } catch (e) {
      log("error", "cannot record a search index check in the chain", {
        command,
        error: String(e),
      });
    }
  }
}

function rangesContext(ranges: readonly SeqRange[]): JsonObject {
  return { seq_ranges: ranges.slice(0, NAMED_RANGES).map(([a, b]) => [a, b]) };
}

/** "search index rows for seqs 10–19, 40–40 differ from the log (11 seqs)". */
function describe(ranges: readonly SeqRange[], differing?: number): string {
  const named = ranges.slice(0, NAMED_RANGES).map(([a, b]) => `${a}–${b - 1}`).join(", ");
  const more = ranges.length > NAMED_RANGES ? ", …" : "";
  const count = differing === undefined ? "" : ` (${differing} seqs)`;
  return `search index rows for seqs ${named}${more} differ from the log${count}; ` +
    "it is rebuilt from the log, and nothing shown was read from it";
}
