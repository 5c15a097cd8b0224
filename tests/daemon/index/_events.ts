/** Event fixtures and temp-dir helpers for the index tests. */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { EventIndex, type IndexRecord } from "../../../daemon/index/event_index.ts";

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

export { prng } from "../../support/random.ts";
