/**
 * `vigil bench store`: durable append of ~300-byte events through the real store (4 sources with
 * two batches of 1,000 in flight each, group commit), against a reference measured in the same run — the same bytes
 * written with the same fsync cadence and no hashing or encoding — and full verification,
 * against one bulk SHA-256 of the same segment bytes.
 */

import { createHash } from "node:crypto";
import type { NewEvent } from "../event/model.ts";
import { listSegments } from "../store/segment_file.ts";
import { sha256Backend } from "../store/sha256.ts";
import { Store } from "../store/store.ts";
import { storePaths } from "../store/store_open.ts";
import { verifyStore } from "../store/verify.ts";

/** One benchmark result line. */
export interface BenchResult {
  bench: string;
  value: number;
  unit: string;
  reference?: { name: string; value: number };
  ratio?: number;
  [extra: string]: unknown;
}

const ROLES = ["alice", "bob", "carol", "app_rw", "etl", "postgres"];
const TABLES = ["public.accounts", "public.payments", "hr.salaries", "public.audit_demo"];

/** A deterministic ~300-byte pgAudit-like event. */
export function sampleEvent(i: number, source: string): NewEvent {
  const table = TABLES[i % TABLES.length]!;
  return {
    ts: 1_700_000_000_000_000 + i * 1000,
    source,
    source_pos: `0/${(0x16b3748 + i * 64).toString(16).toUpperCase()}`,
    kind: "session",
    db: "billing",
    object: table,
    role: ROLES[i % ROLES.length]!,
    client_addr: `10.1.${i % 7}.${i % 250}`,
    pid: 4000 + (i % 97),
    class: "READ",
    command: "SELECT",
    statement_id: i,
    substatement_id: 1,
    statement: `SELECT balance FROM ${table} WHERE id = ${i}`,
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/** Runs the store benchmarks; returns one result per measurement. */
export async function benchStore(opts: { events: number; dir: string }): Promise<BenchResult[]> {
  const { events, dir } = opts;
  const appenders = 4;
  const batch = 1000;
  const pool = Array.from({ length: 8192 }, (_, i) => sampleEvent(i, "bench"));
  const commits: number[] = [];
  const store = await Store.open(`${dir}/store`, {
    checkpointIntervalMs: 0,
    maxSegmentBytes: 256 * 1024 * 1024,
    onCommit: (c) => commits.push(c.bytes),
  });
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  // Each appender (a source) keeps two batches in flight, as `vigil ingest` does, so that one
  // group is encoded while the previous one is fsynced.
  await Promise.all(Array.from({ length: appenders * 2 }, async (_, k) => {
    while (next < events) {
      const start = next;
      const n = Math.min(batch, events - start);
      next += n;
      const evs: NewEvent[] = [];
      for (let i = 0; i < n; i++) evs.push(pool[(start + i) % pool.length]!);
      const s = performance.now();
      await store.append({
        source: `bench${k % appenders}`,
        events: evs,
        position: String(start + n),
      });
      latencies.push(performance.now() - s);
    }
  }));
  const appendMs = performance.now() - t0;
  await store.close();

  // Reference: the same segment bytes, written in the same commit sizes, fdatasync after each.
  const segs = await listSegments(storePaths(`${dir}/store`).segments);
  const bytes = await Promise.all(segs.map((s) => Deno.readFile(s.path)));
  const all = new Uint8Array(bytes.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const b of bytes) {
    all.set(b, o);
    o += b.length;
  }
  const ref = await Deno.open(`${dir}/reference.bin`, {
    write: true,
    create: true,
    truncate: true,
  });
  const r0 = performance.now();
  let off = 0;
  for (const n of commits) {
    let w = 0;
    while (w < n) w += await ref.write(all.subarray(off + w, off + n));
    await ref.syncData();
    off += n;
  }
  const refMs = performance.now() - r0;
  ref.close();

  const v0 = performance.now();
  const report = await verifyStore(`${dir}/store`);
  const verifyMs = performance.now() - v0;
  if (!report.ok || report.events !== events) {
    throw new Error(`bench store: verification failed: ${report.problem?.text ?? report.events}`);
  }
  const h0 = performance.now();
  createHash("sha256").update(all).digest();
  const hashMs = performance.now() - h0;

  latencies.sort((a, b) => a - b);
  const appendRate = Math.round(events / appendMs * 1000);
  const refRate = Math.round(events / refMs * 1000);
  const verifyRate = Math.round(events / verifyMs * 1000);
  const hashRate = Math.round(events / hashMs * 1000);
  const avgBytes = Math.round(all.length / events);
  return [
    {
      bench: "store.append",
      value: appendRate,
      unit: "events/s",
      reference: { name: "same bytes, same fdatasync cadence, no hashing", value: refRate },
      ratio: Number((appendRate / refRate).toFixed(3)),
      events,
      bytes_per_event: avgBytes,
      fsyncs: commits.length,
      sha256: sha256Backend,
    },
    {
      bench: "store.append.commit_p50",
      value: Number(percentile(latencies, 0.5).toFixed(2)),
      unit: "ms",
    },
    {
      bench: "store.append.commit_p99",
      value: Number(percentile(latencies, 0.99).toFixed(2)),
      unit: "ms",
    },
    {
      bench: "store.verify",
      value: verifyRate,
      unit: "events/s",
      reference: { name: "one bulk SHA-256 of the segment bytes", value: hashRate },
      ratio: Number((verifyRate / hashRate).toFixed(3)),
      events,
    },
  ];
}
