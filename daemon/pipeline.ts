/**
 * Connects a source to the store: every batch it emits is appended under the source's name,
 * with its position, and the source hears back only once the batch is durable.
 */

import type { Source, SourceContext } from "./source.ts";
import { SourceError } from "./source.ts";
import type { Store } from "./store/store.ts";

/** Runs `source` as `name` into `store` until `signal` aborts or the source fails. */
export async function runSource(
  store: Store,
  source: Source,
  opts: { name: string; signal: AbortSignal; gauge?: (name: string, value: number) => void },
): Promise<void> {
  const ctx: SourceContext = {
    ...(opts.gauge !== undefined ? { gauge: opts.gauge } : {}),
    name: opts.name,
    position: store.position(opts.name),
    signal: opts.signal,
    emit: async (batch) => {
      const events = batch.events.map((e) => ({ ...e, source: opts.name }));
      try {
        await store.append({
          source: opts.name,
          events,
          ...(batch.position !== undefined ? { position: batch.position } : {}),
        });
      } catch (e) {
        throw new SourceError(
          "store",
          `Cannot store a batch of ${events.length} events from ${opts.name}: ${e}`,
          {
            cause: e,
          },
        );
      }
    },
  };
  await source.run(ctx);
}
