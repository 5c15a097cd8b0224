/**
 * A store to export from: two sources interleaved over three UTC days, some events arriving
 * late (their time before their predecessors'), and signed checkpoints inside the log as well as
 * at its end, so that bundles cut through checkpoints, partitions and days.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { Store } from "../../../daemon/store/store.ts";
import { testEvent } from "../../support/store.ts";

/** 2026-01-01T00:00:00Z in µs. */
export const T0 = Date.UTC(2026, 0, 1) * 1000;
export const HOUR = 3_600_000_000;
/** Events in the store `makeStore` writes by default. */
export const EVENTS = 120;
/** Checkpoints signed inside the log; `close()` signs one more at its end. */
export const CHECKPOINTS_AT = [13, 50, 90];

/** Event `i`: sources alternate unevenly; ~1.7 h apart; every 7th is 5 h late. */
export function bundleEvent(i: number): NewEvent {
  return testEvent(i, {
    source: i % 3 === 0 ? "billing-log" : "billing",
    ts: T0 + Math.round(i * HOUR * 0.6) - (i % 7 === 3 ? 5 * HOUR : 0) + i,
    ...(i % 4 === 0 ? { params: ["a", null], context: { who: `u${i}` } } : {}),
    ...(i % 5 === 1 ? { token: `tok${i % 3}` } : {}),
  });
}

/**
 * Writes `events` events to a new store at `dir`, signing checkpoints after the counts in
 * `checkpointsAt`. Closed (signed at its end) unless `keepOpen`, which returns the open store
 * with `unsigned` more events appended after the last checkpoint.
 */
export async function makeStore(
  dir: string,
  opts: { events?: number; checkpointsAt?: number[]; keepOpen?: boolean; unsigned?: number } = {},
): Promise<Store | undefined> {
  const n = opts.events ?? EVENTS;
  const at = new Set(opts.checkpointsAt ?? CHECKPOINTS_AT);
  const store = await Store.open(dir, { checkpointIntervalMs: 0, hashWorker: false });
  for (let i = 0; i < n; i++) {
    await store.append({ source: bundleEvent(i).source, events: [bundleEvent(i)] });
    if (at.has(i + 1)) await store.checkpoint();
  }
  if (!opts.keepOpen) {
    await store.close();
    return undefined;
  }
  await store.checkpoint();
  for (let i = n; i < n + (opts.unsigned ?? 0); i++) {
    await store.append({ source: bundleEvent(i).source, events: [bundleEvent(i)] });
  }
  return store;
}

/** Every stored event, by seq. */
export async function storedEvents(dir: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const r of readLog(dir)) out.push(r.event);
  return out;
}

/** Relative paths of every file under `dir`, sorted. */
export async function filesUnder(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = `${prefix}${e.name}`;
    if (e.isDirectory) out.push(...await filesUnder(dir, `${rel}/`));
    else out.push(rel);
  }
  return out.sort();
}
