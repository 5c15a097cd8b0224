/**
 * `vigil bench proxy`, the proxy plugin's benchmark (`SourcePlugin.bench`): pgbench TPC-B
 * directly, through pgbouncer and through the proxy source in each mode, in one run. It needs a
 * source checkout and runs as a child program with the permissions a benchmark needs (a
 * throwaway PostgreSQL, pgbench, pgbouncer and `vigil serve`), which the appliance's own do not
 * grant.
 */

import { intFlag, noRest, parseFlags, UsageError } from "../../../daemon/cli/args.ts";
import { scriptChildArgs } from "../../../daemon/bench/script_child.ts";

/**
 * `vigil bench proxy [--seconds N | --transactions N] [--clients N[,N…]] [--jobs N] [--scale N]
 * [--rounds N] [--pin]`:
 * pgbench directly, through pgbouncer and through the proxy source in both modes
 * (`proxy_bench.ts`), for each client count given, and with `--pin` once more with PostgreSQL
 * and pgbench on one CPU and the middle tier on the other (`placement.ts`), after the shared
 * run. It runs as a child Deno on the bench script of a source
 * checkout: it starts a throwaway PostgreSQL, pgbench, pgbouncer and `vigil serve`, which the
 * appliance's own permissions do not allow.
 */
export async function proxyBenchCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    seconds: { type: "string" },
    transactions: { type: "string" },
    clients: { type: "string" },
    jobs: { type: "string" },
    scale: { type: "string" },
    rounds: { type: "string" },
    pin: { type: "boolean" },
  });
  noRest(rest);
  if (values.seconds !== undefined && values.transactions !== undefined) {
    throw new UsageError("give --seconds or --transactions, not both");
  }
  const passed: string[] = [];
  if (values.clients !== undefined) {
    const counts = values.clients.split(",").map((c) => intFlag(c, "clients")!);
    if (counts.some((n) => n === 0)) throw new UsageError("--clients must be at least 1");
    passed.push("--clients", counts.join(","));
  }
  if (values.pin) passed.push("--pin");
  for (const flag of ["seconds", "transactions", "jobs", "scale", "rounds"] as const) {
    const n = intFlag(values[flag], flag);
    if (n === 0) throw new UsageError(`--${flag} must be at least 1`);
    if (n !== undefined) passed.push(`--${flag}`, String(n));
  }
  const script = new URL("../../../scripts/bench_proxy.ts", import.meta.url);
  try {
    await Deno.stat(script);
  } catch {
    throw new UsageError(`bench proxy needs a source checkout: no ${script.pathname}`);
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: scriptChildArgs(script.pathname, passed),
    stdin: "null",
  }).spawn();
  return (await child.status).code;
}
