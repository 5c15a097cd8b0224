/**
 * WAL source intake into the durable store: how many row changes per second the WAL source
 * decodes, turns into events and fsyncs into a real store, against `pg_recvlogical` with
 * pgoutput writing to /dev/null, on the same WAL in the same run. Both read their own slot,
 * made before the workload (large transactions of `INSERT … SELECT generate_series` and many
 * single-row transactions), so the server decodes the same WAL for each.
 *
 * It creates and drops its own table, publication and slots; the store goes to `dataDir`.
 */

import process from "node:process";
import { runSource } from "../../daemon/pipeline.ts";
import type { Source } from "../../daemon/source.ts";
import { Store } from "../../daemon/store/store.ts";
import { formatLsn, parseLsn } from "./lsn.ts";
import { connectReplication } from "./replication.ts";
import { connect } from "../../daemon/pgwire/mod.ts";
import { walSource } from "./mod.ts";

/** Options of {@link benchWalStore}. */
export interface WalStoreBenchOptions {
  dsn: string;
  /** An empty directory for the store. */
  dataDir: string;
  /** Large transactions; default 20. */
  bigTxns?: number;
  /** Rows per large transaction; default 50 000. */
  bigRows?: number;
  /** Single-row transactions; default 20 000. */
  singles?: number;
  /** Path of pg_recvlogical; default PostgreSQL 15's. */
  recvlogical?: string;
}

/** A result line in the DESIGN.md bench format. */
export interface WalBenchResult {
  bench: string;
  value: number;
  unit: string;
  reference?: { name: string; value: number };
  ratio?: number;
}

const TABLE = "vigil_bench_wal";
const PUBLICATION = "vigil_bench_wal";
const OURS = "vigil_bench_wal_store";
const THEIRS = "vigil_bench_wal_ref";
const SINGLES_PER_QUERY = 1000;

/** Sets up, writes the workload, measures both sides, cleans up; returns result lines. */
export async function benchWalStore(opts: WalStoreBenchOptions): Promise<WalBenchResult[]> {
  const bigTxns = opts.bigTxns ?? 20;
  const bigRows = opts.bigRows ?? 50_000;
  const singles = opts.singles ?? 20_000;
  const total = bigTxns * bigRows + singles;
  if (![bigTxns, bigRows, singles].every((n) => Number.isInteger(n) && n >= 0) || total === 0) {
    throw new TypeError(`Bad bench size: ${bigTxns} × ${bigRows} rows and ${singles} singles`);
  }
  const binary = opts.recvlogical ?? "/usr/lib/postgresql/15/bin/pg_recvlogical";
  const sql = await connect(opts.dsn);
  const admin = await connectReplication(opts.dsn);
  try {
    await sql.query(
      `DROP PUBLICATION IF EXISTS ${PUBLICATION}; DROP TABLE IF EXISTS ${TABLE}; ` +
        `CREATE TABLE ${TABLE} (id int, v text); ` +
        `CREATE PUBLICATION ${PUBLICATION} FOR TABLE ${TABLE}`,
    );
    for (const slot of [OURS, THEIRS]) {
      await admin.dropSlot(slot);
      await admin.createSlotIfMissing(slot);
    }
    for (let i = 0; i < bigTxns; i++) {
      await sql.query(
        `INSERT INTO ${TABLE} SELECT g, 'row ' || g FROM generate_series(1, ${bigRows}) g`,
      );
    }
    for (let done = 0; done < singles; done += SINGLES_PER_QUERY) {
      const n = Math.min(SINGLES_PER_QUERY, singles - done);
      // Explicit blocks: each statement of one simple query commits on its own.
      await sql.query(
        Array.from(
          { length: n },
          (_, i) => `BEGIN; INSERT INTO ${TABLE} VALUES (${done + i}, 's'); COMMIT;`,
        )
          .join(" "),
      );
    }
    const end = parseLsn((await sql.query(`SELECT pg_current_wal_lsn()`)).rows[0]![0]!);

    const ours = await measureStore(opts, total);
    const refSeconds = await measureRecvlogical(opts.dsn, { slot: THEIRS, end, binary });
    const perSecond = total / ours.seconds;
    const refPerSecond = total / refSeconds;
    return [
      {
        bench: "wal_store_intake",
        value: Math.round(perSecond),
        unit: "row changes/s into the durable store",
        reference: { name: "pg_recvlogical", value: Math.round(refPerSecond) },
        ratio: round(perSecond / refPerSecond),
      },
      {
        bench: "wal_store_intake_rss",
        value: round(ours.peakRss / 2 ** 20),
        unit: `MiB peak RSS while storing ${total} row changes`,
      },
      {
        bench: "wal_store_intake_cpu",
        value: round(ours.cpuSeconds / total * 1e6),
        unit: "µs of CPU (all threads) per row change",
      },
    ];
  } finally {
    for (const slot of [OURS, THEIRS]) await admin.dropSlot(slot, { wait: true }).catch(() => {});
    await sql.query(`DROP PUBLICATION IF EXISTS ${PUBLICATION}; DROP TABLE IF EXISTS ${TABLE}`)
      .catch(() => {});
    await admin.close();
    await sql.close();
  }
}

/** Runs the WAL source into a store until `total` events are durable. */
async function measureStore(
  opts: WalStoreBenchOptions,
  total: number,
): Promise<{ seconds: number; cpuSeconds: number; peakRss: number }> {
  const store = await Store.open(opts.dataDir, { checkpointIntervalMs: 0 });
  const ac = new AbortController();
  const all = Promise.withResolvers<void>();
  let stored = 0;
  const inner = walSource({ dsn: opts.dsn, slot: OURS, publication: PUBLICATION });
  const counting: Source = {
    run: (ctx) =>
      inner.run({
        ...ctx,
        emit: async (batch) => {
          await ctx.emit(batch); // Resolves once the batch is fsynced.
          stored += batch.events.filter((e) => e.kind === "row_change").length;
          if (stored >= total) all.resolve();
        },
      }),
  };
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const running = runSource(store, counting, { name: "bench", signal: ac.signal });
  running.then(
    () => all.reject(new Error(`The WAL source stopped after ${stored} of ${total} changes`)),
    (error) => all.reject(error),
  );
  try {
    await all.promise;
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    return { seconds, cpuSeconds: (used.user + used.system) / 1e6, peakRss };
  } finally {
    clearInterval(sampler);
    ac.abort();
    await running.catch(() => {});
    await store.close();
  }
}

/** Runs pg_recvlogical on `slot` until `end`, writing to /dev/null; returns its seconds. */
async function measureRecvlogical(
  dsn: string,
  opts: { slot: string; end: bigint; binary: string },
): Promise<number> {
  const started = performance.now();
  const out = await new Deno.Command(opts.binary, {
    args: [
      ...["-d", dsn, "--slot", opts.slot, "--start", "--no-loop", "-f", "/dev/null"],
      ...["--plugin=pgoutput", "-o", "proto_version=1", "-o", `publication_names=${PUBLICATION}`],
      ...["-E", formatLsn(opts.end)],
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`pg_recvlogical failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return (performance.now() - started) / 1000;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
