/**
 * Where a proxy's events go, in its two modes. Enforce: {@link Recorder.record} resolves only
 * once the events are durable (or rejects), and the session releases the result it holds only
 * then. Under `serve` that is the source's spool (`source.ts`); without a spool directory, the
 * {@link GroupRecorder} here, whose calls waiting at the same moment share one emit.
 * Observe: events join one backlog per source, bounded in events (`backlog_events`) and in
 * bytes, that a single writer stores in batches (at most one every few tens of ms under load);
 * `record` returns at once, and when the backlog is full the events are counted lost and a
 * `PROXY_GAP` event saying how many is stored as soon as the store takes events again. A batch
 * the store refused is counted lost too rather than offered again, because a refused append
 * may still have reached the disk, and an event stored twice is worse than one counted.
 */

import type { NewEvent } from "../../daemon/event/model.ts";
import { log } from "../../daemon/log.ts";
import type { SourceContext } from "../../daemon/source.ts";
import { nowMicros } from "./events.ts";

/** Takes a session's events. */
export interface Recorder {
  /** Enforce: resolves once stored, rejects if not. Observe: resolves at once. */
  record(events: NewEvent[]): Promise<void>;
}

/** Events stored in one batch at most. */
const BATCH_MAX = 2000;
/**
 * Observe mode: least time between the starts of two emits while events keep coming. Every
 * durable batch has a fixed cost on the daemon's thread (the store's group, detection's and the
 * index's transactions) which a stream of small batches would pay hundreds of times a second.
 */
const MIN_EMIT_INTERVAL_MS = 20;
/** What the observe backlog may hold besides its count: statements can be long. */
const BACKLOG_BYTES = 256 * 1024 * 1024;

/** About what an event costs in memory: its texts, and a little for the rest. */
function eventBytes(e: NewEvent): number {
  let n = 256 + 2 * ((e.statement?.length ?? 0) + (e.error?.length ?? 0));
  for (const p of e.params ?? []) n += 16 + 2 * (p?.length ?? 0);
  return n;
}

/**
 * Enforce mode: group commit across the source's sessions. One emit is in flight at a time;
 * the calls made meanwhile wait and then go together as the next emit, so statements waiting
 * at the same moment share one durable flush. (The store pipelines a few groups at once, so
 * separate emits from a handful of sessions would each get a flush of their own, one after
 * the other.) Each call resolves once its events are durable and rejects if their emit failed.
 */
export class GroupRecorder implements Recorder {
  readonly #ctx: SourceContext;
  #waiting: { events: NewEvent[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  #busy = false;

  constructor(ctx: SourceContext) {
    this.#ctx = ctx;
  }

  record(events: NewEvent[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ events, resolve, reject });
      if (!this.#busy) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#busy = true;
    while (this.#waiting.length > 0) {
      let count = 0;
      let take = 0;
      while (take < this.#waiting.length && (take === 0 || count < BATCH_MAX)) {
        count += this.#waiting[take++]!.events.length;
      }
      const calls = this.#waiting.splice(0, take);
      const events = calls.length === 1 ? calls[0]!.events : calls.flatMap((c) => c.events);
      const last = events[events.length - 1];
      try {
        await this.#ctx.emit({
          events,
          ...(last?.source_pos ? { position: last.source_pos } : {}),
        });
        for (const c of calls) c.resolve();
      } catch (error) {
        for (const c of calls) c.reject(error);
      }
    }
    this.#busy = false;
  }
}

/** Observe mode: a bounded backlog and its writer; {@link drain} before the run returns. */
export class BacklogRecorder implements Recorder {
  readonly #ctx: SourceContext;
  readonly #limit: number;
  #queue: NewEvent[] = [];
  #bytes = 0;
  #lost = 0;
  #lostTotal = 0;
  #wake: (() => void) | undefined;
  #closing = false;
  #emitted = -Infinity;
  readonly #writer: Promise<void>;

  constructor(ctx: SourceContext, limit: number) {
    this.#ctx = ctx;
    this.#limit = limit;
    this.#writer = this.#write();
  }

  /** Events waiting for the store. */
  get backlog(): number {
    return this.#queue.length;
  }

  /** Events lost since the start of this run. */
  get lost(): number {
    return this.#lostTotal;
  }

  record(events: NewEvent[]): Promise<void> {
    for (const e of events) {
      const size = eventBytes(e);
      if (this.#queue.length >= this.#limit || this.#bytes + size > BACKLOG_BYTES) {
        this.#lose(1);
        continue;
      }
      this.#queue.push(e);
      this.#bytes += size;
    }
    this.#ctx.gauge?.("backlog_events", this.#queue.length);
    this.#wake?.();
    return Promise.resolve();
  }

  /** Stores what is queued, then stops the writer. */
  async drain(): Promise<void> {
    this.#closing = true;
    this.#wake?.();
    await this.#writer;
  }

  #lose(n: number): void {
    this.#lost += n;
    this.#lostTotal += n;
    this.#ctx.gauge?.("events_lost", this.#lostTotal);
  }

  async #write(): Promise<void> {
    for (;;) {
      if (this.#queue.length === 0 && this.#lost === 0) {
        if (this.#closing) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      const since = performance.now() - this.#emitted;
      if (since < MIN_EMIT_INTERVAL_MS && this.#queue.length < BATCH_MAX && !this.#closing) {
        await new Promise((resolve) => setTimeout(resolve, MIN_EMIT_INTERVAL_MS - since));
      }
      this.#emitted = performance.now();
      const batch = this.#queue.splice(0, BATCH_MAX);
      for (const e of batch) this.#bytes -= eventBytes(e);
      this.#ctx.gauge?.("backlog_events", this.#queue.length);
      const lost = this.#lost;
      if (lost > 0) batch.unshift(this.#gapEvent(lost));
      const last = batch[batch.length - 1]!;
      try {
        await this.#ctx.emit({
          events: batch,
          ...(last.source_pos ? { position: last.source_pos } : {}),
        });
        this.#lost -= lost;
      } catch (error) {
        const stored = lost > 0 ? batch.length - 1 : batch.length;
        this.#lose(stored);
        log("error", "proxy events lost: the store refused a batch", {
          source: this.#ctx.name,
          events: stored,
          error: String(error),
        });
        // The store is failing: give it a moment rather than spin.
        if (!this.#closing) await new Promise((resolve) => setTimeout(resolve, 200));
        if (this.#closing) return;
      }
    }
  }

  #gapEvent(lost: number): NewEvent {
    return {
      ts: nowMicros(),
      source: this.#ctx.name,
      source_pos: `gap-${crypto.randomUUID()}`,
      kind: "system",
      command: "PROXY_GAP",
      error: `${lost} events of proxied sessions were not stored: the observe-mode backlog ` +
        "was full or the store refused them",
      context: { lost },
    };
  }
}
