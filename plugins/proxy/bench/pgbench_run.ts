/**
 * One pgbench TPC-B run against a loopback port, for the proxy benchmark: its TPS as pgbench
 * reports it (without the initial connection time) and every transaction's latency from its
 * per-transaction logs (`-l`), written to a directory of the caller's and read back.
 */

import { onCpus } from "./placement.ts";

/** PostgreSQL 15's pgbench, as Debian installs it. */
export const PGBENCH = "/usr/lib/postgresql/15/bin/pgbench";

/** Options of {@link runPgbench}. */
export interface PgbenchRunOptions {
  port: number;
  user: string;
  /** pgbench's `-M`. */
  mode: "simple" | "extended" | "prepared";
  clients: number;
  /** Threads (`-j`). */
  jobs: number;
  /** Length: seconds (`-T`) or transactions per client (`-t`). */
  length: { seconds: number } | { transactions: number };
  /** An empty directory for the per-transaction logs. */
  logDir: string;
  /** The CPUs pgbench runs on (taskset's list); default wherever the kernel likes. */
  cpus?: string;
}

/** What a run measured. */
export interface PgbenchRun {
  tps: number;
  transactions: number;
  /** Transaction latencies in µs, ascending. */
  latenciesUs: Float64Array;
}

/** Runs pgbench (with its usual vacuum of the small tables first); fails with its stderr. */
export async function runPgbench(opts: PgbenchRunOptions): Promise<PgbenchRun> {
  const length = "seconds" in opts.length
    ? ["-T", String(opts.length.seconds)]
    : ["-t", String(opts.length.transactions)];
  const args = [
    ...["-h", "127.0.0.1", "-p", String(opts.port), "-U", opts.user],
    ...["-M", opts.mode, "-c", String(opts.clients), "-j", String(opts.jobs), ...length],
    ...["-l", "--log-prefix", `${opts.logDir}/tx`, "postgres"],
  ];
  const [program, argv] = opts.cpus === undefined
    ? [PGBENCH, args]
    : onCpus(opts.cpus, PGBENCH, args);
  const out = await new Deno.Command(program, {
    args: argv,
    cwd: opts.logDir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `pgbench -M ${opts.mode} on port ${opts.port} failed (${out.code}): ` +
        new TextDecoder().decode(out.stderr).slice(-2000),
    );
  }
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(text)?.[1]);
  const transactions = Number(/transactions actually processed: (\d+)/.exec(text)?.[1]);
  if (!Number.isFinite(tps) || !Number.isFinite(transactions)) {
    throw new SyntaxError(`Cannot read pgbench's summary: ${text.slice(-2000)}`);
  }
  const latencies: number[] = [];
  for await (const entry of Deno.readDir(opts.logDir)) {
    if (!entry.name.startsWith("tx.")) continue;
    const lines = (await Deno.readTextFile(`${opts.logDir}/${entry.name}`)).split("\n");
    for (const [i, line] of lines.entries()) {
      if (line === "") continue;
      // client_id transaction_no time(µs) script_no time_epoch time_us
      const us = Number(line.split(" ")[2]);
      if (!Number.isFinite(us)) {
        throw new SyntaxError(`Cannot read pgbench's log ${entry.name}:${i + 1}: ${line}`);
      }
      latencies.push(us);
    }
  }
  if (latencies.length !== transactions) {
    throw new RangeError(
      `pgbench logged ${latencies.length} transactions but reported ${transactions}`,
    );
  }
  return { tps, transactions, latenciesUs: Float64Array.from(latencies).sort() };
}

/** The `p`-quantile (0..1) of ascending values, nearest rank; NaN when there are none. */
export function quantile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank]!;
}
