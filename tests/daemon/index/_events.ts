/** Event fixtures and temp-dir helpers for the index tests. */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { EventIndex, type IndexRecord } from "../../../daemon/index/event_index.ts";
import { compileFilter, type EventFilter, matchesCompiled } from "../../../daemon/index/filter.ts";

/** Base time of the fixtures: 2024-01-01T00:00:00Z in µs. */
export const T0 = 1_704_067_200_000_000;

/** An event with defaults for the required fields. */
export function event(seq: number, fields: Partial<AuditEvent> = {}): AuditEvent {
  return {
    seq,
    ts: T0 + seq * 1_000_000,
    ingest_ts: T0 + seq * 1_000_000 + 5,
    source: "billing",
    kind: "object",
    ...fields,
  };
}

/** The index record of an event. */
export function record(ev: AuditEvent): IndexRecord {
  return { seq: ev.seq, event: ev };
}

/** Records of many events. */
export function records(events: readonly AuditEvent[]): IndexRecord[] {
  return events.map(record);
}

/** Seqs of a result, for compact comparisons. */
export function seqs(events: readonly AuditEvent[]): number[] {
  return events.map((e) => e.seq);
}

/** Runs `fn` with a fresh temp dir, removed afterwards whatever happens. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "vigil-index-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `fn` with a writable index in a fresh temp dir, closed and removed afterwards. */
export async function withIndex<T>(
  fn: (index: EventIndex, path: string) => Promise<T> | T,
): Promise<T> {
  return await withTempDir(async (dir) => {
    const path = dir + "/index.sqlite";
    const index = EventIndex.open(path);
    try {
      return await fn(index, path);
    } finally {
      index.close();
    }
  });
}

/**
 * What a search through `index` answers (as `search.ts` does with the log): the seqs the index
 * nominates, each tested against its event in `events`, keyset-paged until the limit is filled.
 * The index holds trigrams, not text, so with text it may nominate more than match.
 */
export function searched(
  index: EventIndex,
  events: readonly AuditEvent[],
  f: EventFilter,
): number[] {
  const c = compileFilter(f);
  const bySeq = new Map(events.map((e) => [e.seq, e]));
  const out: number[] = [];
  const limit = f.limit ?? Infinity;
  const bounds: { afterSeq?: number; beforeSeq?: number } = {};
  if (f.afterSeq !== undefined) bounds.afterSeq = f.afterSeq;
  if (f.beforeSeq !== undefined) bounds.beforeSeq = f.beforeSeq;
  while (out.length < limit) {
    const left = limit - out.length;
    const page = index.seqs({
      ...f,
      ...bounds,
      ...(Number.isFinite(left) ? { limit: left } : { limit: undefined }),
    });
    for (const s of page) {
      const ev = bySeq.get(s);
      if (ev !== undefined && matchesCompiled(ev, c)) out.push(s);
    }
    if (!Number.isFinite(left) || page.length < left) break;
    if (c.order === "desc") bounds.beforeSeq = page[page.length - 1]!;
    else bounds.afterSeq = page[page.length - 1]!;
  }
  return out;
}

export { prng } from "../../support/random.ts";
