/**
 * What the WAL source costs a running database, and how soon a commit is evidence:
 *
 * - **commit → durable latency**: pgbench commits single-row INSERTs at a fixed rate (~1k TPS)
 *   while the source stores them; for each stored row change, the wall time at which the store
 *   reported it durable minus its commit time from the WAL (same machine, same clock).
 * - **pgbench cost**: TPC-B TPS without the source, with it, and with pg_recvlogical instead
 *   (the share of the cost that is the server's logical decoding, whoever reads it),
 *   alternating rounds in the same run so that drift (caches, checkpoints) hits all alike.
 *
 * It creates and drops its own tables, publication and slot.
 */

import { runSource } from "../../daemon/pipeline.ts";
import { Store } from "../../daemon/store/store.ts";
import { connectReplication } from "./replication.ts";
import { connect } from "../../daemon/pgwire/mod.ts";
import { walSource } from "./mod.ts";
import type { WalBenchResult } from "./bench.ts";

const PGBENCH = "/usr/lib/postgresql/15/bin/pgbench";
const RECVLOGICAL = "/usr/lib/postgresql/15/bin/pg_recvlogical";
const TABLE = "vigil_bench_latency";
const PUBLICATION = "vigil_bench_latency";
const SLOT = "vigil_bench_latency";

/** Options of the latency and cost benches. */
export interface WalLatencyBenchOptions {
  dsn: string;
  /** An empty directory; each run of the source gets a store below it. */
  dataDir: string;
  /** Target rate of the latency run; default 1000. */
  tps?: number;
  /** Seconds of each pgbench run; default 10. */
  seconds?: number;
  /** Alternating rounds of the cost comparison; default 3 with and 3 without. */
  rounds?: number;
}

/** Runs both benches; returns result lines. */
export async function benchWalLatency(opts: WalLatencyBenchOptions): Promise<WalBenchResult[]> {
  const seconds = opts.seconds ?? 10;
  const sql = await connect(opts.dsn);
  const admin = await connectReplication(opts.dsn);
  const script = await Deno.makeTempFile({ prefix: "vigil-bench-", suffix: ".sql" });
  try {
    await sql.query(
      `DROP PUBLICATION IF EXISTS ${PUBLICATION}; DROP TABLE IF EXISTS ${TABLE}; ` +
        `CREATE TABLE ${TABLE} (id bigserial PRIMARY KEY, v int); ` +
        `CREATE PUBLICATION ${PUBLICATION} FOR ALL TABLES`,
    );
    await admin.dropSlot(SLOT);
    await pgbench(opts.dsn, ["-i", "-s", "10", "-q"]);
    await Deno.writeTextFile(script, `INSERT INTO ${TABLE} (v) VALUES (1);\n`);

    // Latency at a fixed rate.
    const tps = opts.tps ?? 1000;
    const latencies: number[] = [];
    await withSource(opts, "latency", (store) => {
      store.onDurable((records) => {
        const now = Date.now() * 1000;
        for (const r of records) {
          if (r.event.kind === "row_change" && r.event.object === `public.${TABLE}`) {
            latencies.push((now - r.event.ts) / 1000);
          }
        }
      });
    }, async () => {
      await pgbench(opts.dsn, [
        ...["-n", "-f", script, "-R", String(tps), "-T", String(seconds), "-c", "2", "-j", "1"],
      ]);
      // The last commits' events land within a moment; wait for them, not for the clock.
      const committed = Number((await sql.query(`SELECT count(*) FROM ${TABLE}`)).rows[0]![0]);
      const deadline = Date.now() + 30_000;
      while (latencies.length < committed && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    latencies.sort((a, b) => a - b);
    const q = (p: number): number =>
      latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;

    // Cost: TPC-B with and without the source, alternating.
    const rounds = opts.rounds ?? 3;
    const without: number[] = [];
    const withIt: number[] = [];
    const withRecv: number[] = [];
    const tpcb = ["-n", "-c", "4", "-j", "2", "-T", String(seconds)];
    for (let i = 0; i < rounds; i++) {
      without.push(await pgbench(opts.dsn, tpcb));
      await withSource(opts, `cost-${i}`, () => {}, async () => {
        withIt.push(await pgbench(opts.dsn, tpcb));
      });
      // The server's own share: logical decoding for a client that only writes to /dev/null.
      await withRecvlogical(opts.dsn, admin, async () => {
        withRecv.push(await pgbench(opts.dsn, tpcb));
      });
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const off = mean(without);
    const on = mean(withIt);
    return [
      {
        bench: "wal_commit_to_durable_p50",
        value: round(q(0.5)),
        unit: `ms from commit to fsynced in the store at ${tps} TPS (${latencies.length} rows)`,
      },
      {
        bench: "wal_commit_to_durable_p99",
        value: round(q(0.99)),
        unit: `ms from commit to fsynced in the store at ${tps} TPS`,
      },
      {
        bench: "wal_pgbench_tps_with_source",
        value: round(on),
        unit: `TPC-B TPS with the WAL source attached (mean of ${rounds} × ${seconds} s; ` +
          `runs: ${withIt.map(Math.round).join(", ")})`,
        reference: { name: "pgbench without the source", value: round(off) },
        ratio: round(on / off),
      },
      {
        bench: "wal_pgbench_tps_with_recvlogical",
        value: round(mean(withRecv)),
        unit: `TPC-B TPS with pg_recvlogical (pgoutput to /dev/null) attached instead (runs: ${
          withRecv.map(Math.round).join(", ")
        })`,
        reference: { name: "pgbench without a replication client", value: round(off) },
        ratio: round(mean(withRecv) / off),
      },
      {
        bench: "wal_pgbench_cost",
        value: round((off - on) / off * 100),
        unit: `% of TPC-B TPS lost with the source attached (without: ${
          without.map(Math.round).join(", ")
        })`,
      },
    ];
  } finally {
    await admin.dropSlot(SLOT, { wait: true }).catch(() => {});
    await sql.query(`DROP PUBLICATION IF EXISTS ${PUBLICATION}; DROP TABLE IF EXISTS ${TABLE}`)
      .catch(() => {});
    await admin.close();
    await sql.close();
    await Deno.remove(script).catch(() => {});
  }
}

/** Runs the source into a fresh store (and slot) while `during` runs. */
async function withSource(
  opts: WalLatencyBenchOptions,
  name: string,
  attach: (store: Store) => void,
  during: () => Promise<void>,
): Promise<void> {
  const dir = `${opts.dataDir}/${name}`;
  const store = await Store.open(dir, { checkpointIntervalMs: 0 });
  attach(store);
  const ac = new AbortController();
  const source = walSource({ dsn: opts.dsn, slot: SLOT, publication: PUBLICATION });
  const running = runSource(store, source, { name: "bench", signal: ac.signal });
  let failed: unknown;
  running.catch((e) => (failed = e));
  try {
    // The slot exists once the source streams; give it the moment it needs to connect.
    const admin = await connectReplication(opts.dsn);
    try {
      const deadline = Date.now() + 10_000;
      while ((await admin.slotInfo(SLOT)) === undefined && Date.now() < deadline) {
        if (failed) throw failed;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await admin.close();
    }
    await during();
    if (failed) throw failed;
  } finally {
    ac.abort();
    await running.catch(() => {});
    await store.close();
    const admin = await connectReplication(opts.dsn);
    await admin.dropSlot(SLOT, { wait: true }).catch(() => {});
    await admin.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs pg_recvlogical on a slot of its own, writing to /dev/null, while `during` runs. */
async function withRecvlogical(
  dsn: string,
  admin: Awaited<ReturnType<typeof connectReplication>>,
  during: () => Promise<void>,
): Promise<void> {
  const slot = `${SLOT}_ref`;
  await admin.dropSlot(slot);
  await admin.createSlotIfMissing(slot);
  const child = new Deno.Command(RECVLOGICAL, {
    args: [
      ...["-d", dsn, "--slot", slot, "--start", "-f", "/dev/null", "--plugin=pgoutput"],
      ...["-o", "proto_version=1", "-o", `publication_names=${PUBLICATION}`],
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await during();
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await admin.dropSlot(slot, { wait: true }).catch(() => {});
  }
}

/** Runs pgbench against `dsn`; returns its TPS (0 for `-i`). */
async function pgbench(dsn: string, args: string[]): Promise<number> {
  const out = await new Deno.Command(PGBENCH, {
    args: [...args, dsn],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`pgbench ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return Number(/tps = ([\d.]+)/.exec(text)?.[1] ?? 0);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
