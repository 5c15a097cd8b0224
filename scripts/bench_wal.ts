/**
 * `deno task bench:wal`: WAL source intake into the durable store against pg_recvlogical
 * (`plugins/wal/bench.ts`), then commit→durable latency at a fixed rate and the pgbench TPS
 * with and without the source attached (`plugins/wal/latency_bench.ts`). Against `--dsn` (a
 * server with `wal_level=logical`), or else a throwaway PostgreSQL 15 of the test harness.
 * Prints one JSON line per result.
 *
 * `deno task bench:wal [--dsn DSN] [--big-txns 20] [--big-rows 50000] [--singles 20000]
 *   [--tps 1000] [--seconds 10] [--rounds 3]`
 */

import { print, setLogLevel } from "../daemon/log.ts";
import { benchWalStore } from "../plugins/wal/bench.ts";
import { benchWalLatency } from "../plugins/wal/latency_bench.ts";
import { startPostgres } from "../tests/support/postgres.ts";

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

function count(name: string, fallback: number): number {
  const text = flag(name);
  return text === undefined ? fallback : Number(text);
}

setLogLevel("warn"); // Only the result lines on stdout.
const given = flag("dsn");
await using pg = given === undefined ? await startPostgres() : undefined;
const dataDir = await Deno.makeTempDir({ prefix: "vigil-bench-wal-" });
try {
  const results = await benchWalStore({
    dsn: given ?? pg!.dsn(),
    dataDir,
    bigTxns: count("big-txns", 20),
    bigRows: count("big-rows", 50_000),
    singles: count("singles", 20_000),
  });
  for (const result of results) print(JSON.stringify(result));
  const more = await benchWalLatency({
    dsn: given ?? pg!.dsn(),
    dataDir,
    tps: count("tps", 1000),
    seconds: count("seconds", 10),
    rounds: count("rounds", 3),
  });
  for (const result of more) print(JSON.stringify(result));
} finally {
  await Deno.remove(dataDir, { recursive: true });
}
