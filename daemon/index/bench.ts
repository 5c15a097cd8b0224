/**
 * Benchmark of indexing throughput: events per second through `EventIndex.add()` into a fresh
 * index on disk, in batches as the feeder writes them. Two workloads: every event a pgAudit
 * statement (the trigram index's worst case), and a mix where most events are row changes from
 * WAL decoding, which carry no statement. Results are lines in the `vigil bench` shape.
 *
 * Run alone: `deno run --allow-read --allow-write --allow-env daemon/index/bench.ts`.
 */

import type { AuditEvent } from "../event/model.ts";
import { EventIndex, type IndexRecord } from "./event_index.ts";

/** One benchmark result, as `vigil bench` prints it. */
export interface BenchLine {
  bench: string;
  value: number;
  unit: string;
  reference: { name: string; value: number };
  ratio: number;
}

/** Options of {@link benchIndexInsert}. */
export interface IndexBenchOptions {
  /** Events per workload. Default 200 000. */
  events?: number;
  /** Events per add() call. Default 1000. */
  batch?: number;
}

/** The throughput the design asks of the index, in events/s. */
const TARGET_EVENTS_PER_S = 100_000;

const ROLES = ["alice", "bob", "app_billing", "etl", "postgres"];
const TABLES = ["customers", "invoices", "payments", "ledger", "audit_trail", "sessions"];
const VERBS = ["SELECT", "UPDATE", "INSERT", "DELETE"];

/** A plausible event; deterministic in `seq`. `statement` decides the statement share. */
function syntheticEvent(seq: number, withStatement: boolean): AuditEvent {
  const table = TABLES[seq % TABLES.length]!;
  const base = {
    seq,
    ts: 1_700_000_000_000_000 + seq * 137,
    ingest_ts: 1_700_000_000_000_000 + seq * 137 + 2_000,
    source: seq % 3 === 0 ? "billing" : "billing-log",
    db: "billing",
    schema: "public",
    object: "public." + table,
    role: ROLES[seq % ROLES.length]!,
    client_addr: "10.0.0." + (seq % 200),
    session_id: "65a1f0c2." + (seq % 977).toString(16),
    pid: 4000 + (seq % 300),
  };
  if (!withStatement) {
    return {
      ...base,
      kind: "row_change",
      command: "UPDATE",
      xid: 700_000 + (seq >> 3),
      new_row: { id: String(seq), status: "paid", amount: String(seq % 10_000) },
    };
  }
  const verb = VERBS[seq % VERBS.length]!;
  return {
    ...base,
    kind: "object",
    class: verb === "SELECT" ? "READ" : "WRITE",
    command: verb,
    audit_type: "SESSION",
    statement_id: seq,
    substatement_id: 1,
    statement: `${verb} id, customer_id, amount, status FROM public.${table} WHERE id = ${
      (seq * 7919) % 1_000_000
    } AND status = 'open' ORDER BY created_at DESC LIMIT 50`,
    application_name: "billing-api",
  };
}

async function measure(name: string, n: number, batch: number, share: number): Promise<BenchLine> {
  const dir = await Deno.makeTempDir({ prefix: "vigil-index-bench-" });
  try {
    const records: IndexRecord[] = [];
    for (let seq = 0; seq < n; seq++) {
      // share of events with a statement, spread evenly over the sequence
      const ev = syntheticEvent(seq, Math.floor((seq + 1) * share) > Math.floor(seq * share));
      records.push({ seq, event: ev });
    }
    const index = EventIndex.open(dir + "/index.sqlite");
    const t0 = performance.now();
    for (let i = 0; i < n; i += batch) index.add(records.slice(i, i + batch));
    const seconds = (performance.now() - t0) / 1000;
    index.close();
    const value = Math.round(n / seconds);
    return {
      bench: name,
      value,
      unit: "events/s",
      reference: { name: "target", value: TARGET_EVENTS_PER_S },
      ratio: Math.round((value / TARGET_EVENTS_PER_S) * 100) / 100,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Measures index insert throughput for the statement-only and the mixed workload. */
export async function benchIndexInsert(options: IndexBenchOptions = {}): Promise<BenchLine[]> {
  const n = options.events ?? 200_000;
  const batch = options.batch ?? 1000;
  return [
    await measure("index_insert_statements", n, batch, 1),
    await measure("index_insert_mixed", n, batch, 0.3),
  ];
}

if (import.meta.main) {
  for (const line of await benchIndexInsert()) console.log(JSON.stringify(line));
}
