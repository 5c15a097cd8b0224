/**
 * `vigil bench [store] [--events N]`: benchmarks, one JSON object a line (`bench`, `value`,
 * `unit`, `reference {name, value}`, `ratio`). Each compares against a reference measured in
 * the same run on the same machine.
 */

import { benchStore } from "../bench/store_bench.ts";
import { print } from "../log.ts";
import { intFlag, parseFlags, UsageError } from "./args.ts";

const BENCHES = ["store", "detect"];

/** Runs `vigil bench`; returns the exit code. */
export async function benchCommand(argv: string[]): Promise<number> {
  if (argv[0] === "pgaudit") {
    return await (await import("../../plugins/pgaudit/_bench.ts")).pgauditBenchCommand(
      argv.slice(1),
    );
  }
  const { values, rest } = parseFlags(argv, { events: { type: "string" } });
  const names = rest.length > 0 ? rest : BENCHES;
  for (const n of names) {
    if (!BENCHES.includes(n)) throw new UsageError(`unknown benchmark ${JSON.stringify(n)}`);
  }
  const events = intFlag(values.events, "events") ?? 1_000_000;
  for (const name of names) {
    const dir = await Deno.makeTempDir({ prefix: `vigil-bench-${name}-` });
    try {
      if (name === "store") {
        for (const r of await benchStore({ events, dir })) print(JSON.stringify(r));
      }
      if (name === "detect") {
        const { benchDetect } = await import("../detect/bench.ts");
        for (const r of await benchDetect({ events, dir })) print(JSON.stringify(r));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  return 0;
}
