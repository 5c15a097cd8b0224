/**
 * The program behind `vigil bench proxy` (`plugins/proxy/bench/proxy_bench.ts`): a throwaway
 * PostgreSQL 15 of the test harness (pgAudit off, so that only the path in front of the server
 * differs between runs), pgbench's tables at `--scale`, then the four ways in and both query
 * modes. It runs as a child of `vigil bench` with the permissions that starting PostgreSQL,
 * pgbench, pgbouncer and `vigil serve` need. Prints one JSON line per result.
 *
 * `deno run … scripts/bench_proxy.ts [--seconds 10 | --transactions N] [--clients 4[,16,…]]
 *   [--jobs 2] [--scale 10] [--rounds 1] [--pin]`
 */

import { print, setLogLevel } from "../daemon/log.ts";
import { benchProxy } from "../plugins/proxy/bench/proxy_bench.ts";
import { PGBENCH } from "../plugins/proxy/bench/pgbench_run.ts";
import { startPostgres } from "../tests/support/postgres.ts";

function count(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  const text = i >= 0 ? Deno.args[i + 1] : undefined;
  const n = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`--${name} must be a positive integer`);
  return n;
}

setLogLevel("warn"); // Only the result lines on stdout.
const transactions = Deno.args.includes("--transactions") ? count("transactions", 1) : undefined;
const clientsArg = Deno.args[Deno.args.indexOf("--clients") + 1];
const clients = Deno.args.includes("--clients") && clientsArg !== undefined
  ? clientsArg.split(",").map(Number)
  : [4];
if (clients.some((n) => !Number.isInteger(n) || n < 1)) {
  throw new TypeError("--clients must be positive integers, separated by commas");
}
await using pg = await startPostgres({
  pgauditLog: "none",
  settings: {
    max_connections: Math.max(100, Math.max(...clients) * 4 + 20),
    log_connections: false,
    log_disconnections: false,
  },
});
const init = await new Deno.Command(PGBENCH, {
  args: ["-h", "127.0.0.1", "-p", String(pg.port), "-U", pg.superuser, "-i", "-q", "-s"]
    .concat([String(count("scale", 10)), "postgres"]),
  stdout: "null",
  stderr: "piped",
}).output();
if (!init.success) throw new Error(`pgbench -i failed: ${new TextDecoder().decode(init.stderr)}`);
const dir = await Deno.makeTempDir({ prefix: "vigil-bench-proxy-" });
try {
  await benchProxy({
    pgPort: pg.port,
    pgPid: pg.pid,
    user: pg.superuser,
    dir,
    length: transactions === undefined ? { seconds: count("seconds", 10) } : { transactions },
    clients,
    jobs: count("jobs", 2),
    rounds: count("rounds", 1),
    placements: Deno.args.includes("--pin") ? ["shared", "pinned"] : ["shared"],
  }, (r) => print(JSON.stringify(r)));
} finally {
  await Deno.remove(dir, { recursive: true });
}
