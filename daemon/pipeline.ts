/**
 * Connects a source to the store: every batch it emits is appended under the source's name,
 * with its position, and the source hears back only once the batch is durable.
 *
 * It is also the one place where every source's events lose their secrets (`event/redact.ts`)
 * before they are stored: the built-in rules plus the source's own `redact` patterns, whatever
 * its type. A source never has to remember to redact, and a new source type cannot forget to.
 * The count of redacted events is the source's `redacted_events` gauge, for the current run.
 *
 * A run ends only when every batch it handed over has settled. A source that fails (or
 * returns) while one of its batches is still being stored must not be started again before
 * that batch is durable or refused: the next run reads its position from the store, and a
 * position read while the batch is in flight would be older than what the store then holds —
 * the batch would be streamed and stored again. Emits after the run ended are refused.
 */

import { compileRedaction, redactEvent, type RedactRule } from "./event/redact.ts";
import type { Source, SourceContext } from "./source.ts";
import { SourceError } from "./source.ts";
import type { AppendBatch, AppendResult } from "./store/store.ts";

/** What the pipeline needs of the store: appends, and the positions they made durable. */
export interface SourceStore {
  append(batch: AppendBatch): Promise<AppendResult>;
  position(source: string): string | undefined;
}

/**
 * The store key under which a source's derived state is kept: a position of its own, so that
 * saving it stores no event and leaves the source's position alone.
 */
export function stateKey(name: string): string {
  return `${name}#state`;
}

/** Runs `source` as `name` into `store` until `signal` aborts or the source fails. */
export async function runSource(
  store: SourceStore,
  source: Source,
  opts: {
    name: string;
    signal: AbortSignal;
    gauge?: (name: string, value: number) => void;
    /** The source's spool directory, if it runs beside a data directory. */
    spoolDir?: string;
  },
): Promise<void> {
  let rules: RedactRule[];
  try {
    rules = compileRedaction(source.redaction ?? {});
  } catch (e) {
    throw new SourceError("store", `Cannot run source ${opts.name}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  let redacted = 0;
  opts.gauge?.("redacted_events", redacted);
  const inflight = new Set<Promise<unknown>>();
  let ended = false;
  const ctx: SourceContext = {
    ...(opts.gauge !== undefined ? { gauge: opts.gauge } : {}),
    ...(opts.spoolDir !== undefined ? { spoolDir: opts.spoolDir } : {}),
    name: opts.name,
    position: store.position(opts.name),
    state: store.position(stateKey(opts.name)),
    saveState: async (state) => {
      if (ended) throw new SourceError("store", `Cannot save the state of ${opts.name}: ended`);
      const saving = store.append({ source: stateKey(opts.name), events: [], position: state });
      inflight.add(saving);
      try {
        await saving;
      } catch (e) {
        throw new SourceError("store", `Cannot save the state of ${opts.name}: ${e}`, {
          cause: e,
        });
      } finally {
        inflight.delete(saving);
      }
    },
    signal: opts.signal,
    emit: async (batch) => {
      const before = redacted;
      const events = batch.events.map((e) => {
        const ev = { ...e, source: opts.name };
        // Counted too when the source's spool redacted it already, before writing it.
        if (redactEvent(ev, rules) || ev.redacted === true) redacted++;
        return ev;
      });
      if (redacted !== before) opts.gauge?.("redacted_events", redacted);
      if (ended) {
        throw new SourceError(
          "store",
          `Cannot store a batch of ${events.length} events from ${opts.name}: its run has ended`,
        );
      }
      const appending = store.append({
        source: opts.name,
        events,
        ...(batch.position !== undefined ? { position: batch.position } : {}),
      });
      inflight.add(appending);
      try {
        await appending;
      } catch (e) {
        throw new SourceError(
          "store",
          `Cannot store a batch of ${events.length} events from ${opts.name}: ${e}`,
          { cause: e },
        );
      } finally {
        inflight.delete(appending);
      }
    },
  };
  try {
    await source.run(ctx);
  } finally {
    ended = true;
    // Settled, not succeeded: a refused batch is the source's failure to report, not ours.
    while (inflight.size > 0) await Promise.allSettled([...inflight]);
  }
}
