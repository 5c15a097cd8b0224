/**
 * Helpers for the WAL source's integration tests: a store in memory that can be told to fail
 * (to see what the slot does when a batch is not durable), a running source that can be
 * stopped, and the slot's confirmed position as PostgreSQL reports it.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import type { Source, SourceBatch, SourceContext } from "../../../daemon/source.ts";
import { parseLsn } from "../../../plugins/wal/lsn.ts";
import type { PgCluster } from "../../support/postgres.ts";

/** A store in memory: `emit` keeps the batch and its position, or rejects while `failing`. */
export class MemoryStore {
  readonly events: NewEvent[] = [];
  position: string | undefined;
  /** Every batch offered, stored or not. */
  readonly offered: SourceBatch[] = [];
  failing = false;
  /** Awaited before each batch is stored (or refused). */
  beforeStore: ((batch: SourceBatch) => Promise<void>) | undefined;
  /** Most emits pending at once, and the largest batch: what the source holds in memory. */
  maxInFlight = 0;
  maxBatch = 0;
  #inFlight = 0;

  /** A context for one run of a source named `name`. */
  context(name: string, signal: AbortSignal): SourceContext {
    return {
      name,
      position: this.position,
      signal,
      emit: async (batch) => {
        this.offered.push(batch);
        this.maxBatch = Math.max(this.maxBatch, batch.events.length);
        this.maxInFlight = Math.max(this.maxInFlight, ++this.#inFlight);
        try {
          await new Promise((resolve) => setTimeout(resolve, 1)); // an fsync takes a while
          await this.beforeStore?.(batch);
          if (this.failing) throw new Error("disk full (test)");
          this.events.push(...batch.events);
          if (batch.position !== undefined) this.position = batch.position;
        } finally {
          this.#inFlight--;
        }
      },
    };
  }

  /** `new_row.id` of the stored INSERTs into `object`. */
  insertedIds(object = "public.t"): string[] {
    return this.events
      .filter((e) => e.kind === "row_change" && e.command === "INSERT" && e.object === object)
      .map((e) => String(e.new_row?.id));
  }
}

/** A source running in the background. */
export interface Running {
  /** Settles when `run()` does; never rejects (the outcome is in `result`). */
  readonly done: Promise<void>;
  /** Undefined while running; then "ok" or the error `run()` rejected with. */
  result(): "ok" | unknown;
  /** Aborts and waits for `run()` to settle. */
  stop(): Promise<void>;
}

/** Starts `source.run()` with a context made by `context(signal)`. */
export function startRun(
  source: Source,
  context: (signal: AbortSignal) => SourceContext,
): Running {
  const ac = new AbortController();
  let outcome: unknown = undefined;
  const done = source.run(context(ac.signal)).then(
    () => void (outcome = "ok"),
    (error) => void (outcome = error ?? new Error("rejected without a reason")),
  );
  return {
    done,
    result: () => outcome,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

/** The slot's `confirmed_flush_lsn`, or undefined when there is no such slot. */
export async function confirmedFlush(pg: PgCluster, slot: string): Promise<bigint | undefined> {
  const text = await pg.sql(
    `SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '${slot}'`,
  );
  return text === "" ? undefined : parseLsn(text);
}

/**
 * Rows of `table` as PostgreSQL's own text output per column (what pgoutput sends), keyed by
 * `id`. Not `col::text`: a few types cast to text their own way.
 */
export async function tableText(
  pg: PgCluster,
  table: string,
): Promise<Map<string, Record<string, string | null>>> {
  const columns = await pg.sql(
    `SELECT string_agg(format('CASE WHEN %1$I IS NULL THEN NULL ELSE format(''%%s'', %1$I) END ` +
      `AS %1$I', attname), ', ' ORDER BY attnum) FROM pg_attribute ` +
      `WHERE attrelid = '${table}'::regclass AND attnum > 0 AND NOT attisdropped`,
  );
  const json = await pg.sql(
    `SELECT coalesce(json_agg(row_to_json(r)), '[]') FROM (SELECT ${columns} FROM ${table}) r`,
  );
  const rows = JSON.parse(json) as Record<string, string | null>[];
  return new Map(rows.map((row) => [String(row.id), row]));
}
