/**
 * Collects a source's events into batches and hands them to the pipeline, each with the
 * position after it. Up to two batches are in flight, so reading and parsing the next one
 * overlaps the store's fsync of the last; a third waits (backpressure). The first failure is
 * kept and thrown by the next call, so the source stops and restarts from what is durable.
 */

import type { NewEvent } from "../../daemon/event/model.ts";
import type { SourceContext } from "../../daemon/source.ts";

const IN_FLIGHT = 2;

/** Batches of one running source. */
export class Batcher {
  readonly #ctx: SourceContext;
  readonly #max: number;
  #events: NewEvent[] = [];
  #inFlight: Promise<void>[] = [];
  #failed: { error: unknown } | undefined;
  /** The position last handed on, so an unchanged one is not stored again. */
  #lastKey: string | undefined;

  constructor(ctx: SourceContext, maxEvents: number) {
    this.#ctx = ctx;
    this.#max = maxEvents;
  }

  /** True when the batch being filled should go now. */
  get full(): boolean {
    return this.#events.length >= this.#max;
  }

  add(ev: NewEvent): void {
    this.#events.push(ev);
  }

  /**
   * Hands the events so far on with `position` (also with no events, when `key` — what of the
   * position matters for resuming — changed). Waits while too many batches are in flight.
   */
  async flush(position: () => string, key: string): Promise<void> {
    this.#check();
    if (this.#events.length === 0 && key === this.#lastKey) return;
    const batch = { events: this.#events, position: position() };
    this.#events = [];
    this.#lastKey = key;
    const p = this.#ctx.emit(batch);
    p.catch((error) => (this.#failed ??= { error }));
    this.#inFlight.push(p);
    while (this.#inFlight.length >= IN_FLIGHT) {
      await this.#inFlight.shift()!.catch(() => {});
      this.#check();
    }
  }

  /** Waits for every batch in flight; throws the first failure. */
  async drain(): Promise<void> {
    await Promise.allSettled(this.#inFlight);
    this.#inFlight = [];
    this.#check();
  }

  #check(): void {
    if (this.#failed !== undefined) throw this.#failed.error;
  }
}
