/**
 * `vigil bench triggers --dsn DSN [--seconds 10] [--rounds 3] [--clients 4] [--scale 4]`: what
 * the statement triggers of `vigil pg-install` cost the database. pgbench TPC-B against two
 * databases of the same server, made for the bench: one with Vigil's SQL installed (a
 * `vigil.stmt` message per statement, four per transaction), one without — the reference,
 * measured in the same run, rounds alternating between the two so that load from elsewhere
 * falls on both alike. Simple and extended protocol each. Prints JSON lines: TPS (median of
 * the rounds) with the reference and their ratio, and WAL bytes per transaction.
 *
 * Needs a superuser DSN on a server with `wal_level = logical`; it creates and drops the
 * databases `vigil_bench_plain` and `vigil_bench_stmt`.
 */

import { intFlag, noRest, parseFlags, required } from "../cli/args.ts";
import { print } from "../log.ts";
import { connect, type PgConnection } from "../pgwire/connection.ts";
import { installPgSide } from "./install.ts";

/** One result line. */
export interface TriggerBenchResult {
  bench: string;
  value: number;
  unit: string;
  reference: { name: string; value: number };
  ratio: number;
}

/** Options of {@link benchTriggers}. */
export interface TriggerBenchOptions {
  dsn: string;
  seconds: number;
  rounds: number;
  clients: number;
  scale: number;
  /** Path of pgbench; default PostgreSQL 15's. */
  pgbench?: string;
}

const PLAIN = "vigil_bench_plain";
const STMT = "vigil_bench_stmt";

/** Runs `vigil bench triggers`; returns the exit code. */
export async function benchTriggersCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    dsn: { type: "string" },
    seconds: { type: "string" },
    rounds: { type: "string" },
    clients: { type: "string" },
    scale: { type: "string" },
  });
  noRest(rest);
  const results = await benchTriggers({
    dsn: required(values.dsn, "dsn"),
    seconds: intFlag(values.seconds, "seconds") ?? 10,
    rounds: intFlag(values.rounds, "rounds") ?? 3,
    clients: intFlag(values.clients, "clients") ?? 4,
    scale: intFlag(values.scale, "scale") ?? 4,
  });
  for (const r of results) print(JSON.stringify(r));
  return 0;
}

/** Sets up both databases, runs the rounds, drops the databases; returns result lines. */
export async function benchTriggers(opts: TriggerBenchOptions): Promise<TriggerBenchResult[]> {
  const admin = await connect(opts.dsn);
  const binary = opts.pgbench ?? "/usr/lib/postgresql/15/bin/pgbench";
  try {
    for (const db of [PLAIN, STMT]) {
      await admin.query(`DROP DATABASE IF EXISTS ${db}`);
      await admin.query(`CREATE DATABASE ${db}`);
    }
    await installPgSide(dsnFor(opts.dsn, STMT));
    for (const db of [PLAIN, STMT]) {
      await pgbench(binary, dsnFor(opts.dsn, db), ["-i", "-q", "-s", String(opts.scale)]);
    }
    const results: TriggerBenchResult[] = [];
    for (const mode of ["simple", "extended"]) {
      const runs: Record<string, Run[]> = { [PLAIN]: [], [STMT]: [] };
      for (let round = 0; round < opts.rounds; round++) {
        for (const db of [PLAIN, STMT] as const) {
          const dbAdmin = await connect(dsnFor(opts.dsn, db));
          try {
            const before = await walLsn(dbAdmin);
            const run = await pgbench(binary, dsnFor(opts.dsn, db), [
              ...["-n", "-M", mode, "-c", String(opts.clients), "-j", "2"],
              ...["-T", String(opts.seconds)],
            ]);
            run.walBytes = Number((await walLsn(dbAdmin)) - before);
            runs[db]!.push(run);
          } finally {
            await dbAdmin.close();
          }
        }
      }
      const tps = (db: string) => median(runs[db]!.map((r) => r.tps));
      const walPerTxn = (db: string) =>
        Math.round(sum(runs[db]!.map((r) => r.walBytes)) / sum(runs[db]!.map((r) => r.txns)));
      results.push(line(`pgbench TPC-B, statement triggers (${mode})`, tps(STMT), "TPS", {
        name: "no triggers, same run",
        value: tps(PLAIN),
      }));
      results.push(
        line(`WAL a TPC-B transaction, statement triggers (${mode})`, walPerTxn(STMT), "bytes", {
          name: "no triggers, same run",
          value: walPerTxn(PLAIN),
        }),
      );
    }
    return results;
  } finally {
    for (const db of [PLAIN, STMT]) {
      await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {});
    }
    await admin.close();
  }
}

interface Run {
  tps: number;
  txns: number;
  walBytes: number;
}

function line(
  bench: string,
  value: number,
  unit: string,
  reference: { name: string; value: number },
): TriggerBenchResult {
  return {
    bench,
    value,
    unit,
    reference,
    ratio: Math.round((value / reference.value) * 1000) / 1000,
  };
}

/** The DSN with another database. */
function dsnFor(dsn: string, db: string): string {
  const url = new URL(dsn);
  url.pathname = `/${db}`;
  return url.toString();
}

async function walLsn(conn: PgConnection): Promise<bigint> {
  const { rows } = await conn.query("SELECT pg_current_wal_insert_lsn() - '0/0'");
  return BigInt(String(rows[0]?.[0] ?? "0").split(".")[0]!);
}

/** Runs pgbench; its TPS and transactions processed (0 for `-i`). */
async function pgbench(binary: string, dsn: string, args: string[]): Promise<Run> {
  const out = await new Deno.Command(binary, {
    args: [...args, dsn],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`pgbench ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return {
    tps: Math.round(Number(/tps = ([\d.]+)/.exec(text)?.[1] ?? 0)),
    txns: Number(/actually processed: (\d+)/.exec(text)?.[1] ?? 0),
    walBytes: 0,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
