/**
 * `vigil bench [store|detect|search|scale|commit|export|<source type>] [--events N]` (some with
 * flags of their own): benchmarks, one JSON object a line (`bench`, `value`,
 * `unit`, `reference {name, value}`, `ratio`). Each compares against a reference measured in
 * the same run on the same machine. `vigil bench triggers --dsn DSN` (`pg/bench.ts`) measures what
 * pg-install's statement triggers cost a database, and `vigil bench pgaudit` the pgAudit source.
 */

import { benchStore } from "../bench/store_bench.ts";
import { print } from "../log.ts";
import { SOURCE_PLUGINS } from "../../plugins/mod.ts";
import { intFlag, parseFlags, UsageError } from "./args.ts";

const BENCHES = ["store", "detect"];
/**
 * Run only when named: they build large stores (search: 10M events by default), or measure one
 * cost in isolation (commit: a durable group commit's, `--events` commits, 3,000 by default).
 */
const ON_REQUEST = ["search", "scale", "commit"];

/** Runs `vigil bench`; returns the exit code. */
export async function benchCommand(argv: string[]): Promise<number> {
  if (argv[0] === "export") return await benchExport(argv.slice(1));
  // The statement triggers' cost in the database (pg-install's side, not a source's).
  if (argv[0] === "triggers") {
    return await (await import("../pg/bench.ts")).benchTriggersCommand(argv.slice(1));
  }
  // A source type's own benchmark (`vigil bench pgaudit`), from its plugin.
  const plugin = SOURCE_PLUGINS.find((p) => p.type === argv[0]);
  if (plugin?.bench !== undefined) return await plugin.bench(argv.slice(1));
  const { values, rest } = parseFlags(argv, {
    events: { type: "string" },
    // scale: a directory kept across runs, so that a large store is filled once.
    dir: { type: "string" },
    "fill-only": { type: "boolean" },
    // scale: the export phase alone, on the store --dir keeps.
    "export-only": { type: "boolean" },
    // scale: the restart's phases alone (start, intake, searches, download), derived state kept.
    "serve-only": { type: "boolean" },
    // scale: also under intake from real WAL and pgAudit sources, for this many seconds.
    sources: { type: "string" },
    // scale: at most this many seconds for the first start's background builds.
    budget: { type: "string" },
    // scale, with --budget: the whole index by `vigil reindex` first, for searches on all of it.
    reindex: { type: "boolean" },
  });
  const names = rest.length > 0 ? rest : BENCHES;
  for (const n of names) {
    if (!BENCHES.includes(n) && !ON_REQUEST.includes(n)) {
      throw new UsageError(`unknown benchmark ${JSON.stringify(n)}`);
    }
  }
  const flagEvents = intFlag(values.events, "events");
  const events = flagEvents ?? 1_000_000;
  const keptDir = values.dir as string | undefined;
  const sourcesSeconds = intFlag(values.sources, "sources");
  const budgetS = intFlag(values.budget, "budget");
  const scaleOnly = keptDir !== undefined || values["fill-only"] === true ||
    values["export-only"] === true || values["serve-only"] === true ||
    sourcesSeconds !== undefined || budgetS !== undefined || values.reindex === true;
  if (scaleOnly && !(names.length === 1 && names[0] === "scale")) {
    throw new UsageError(
      "--dir, --fill-only, --export-only, --serve-only, --sources, --budget and --reindex are " +
        "flags of `vigil bench scale` alone",
    );
  }
  for (const name of names) {
    if (keptDir !== undefined) await Deno.mkdir(keptDir, { recursive: true });
    const dir = keptDir ?? await Deno.makeTempDir({ prefix: `vigil-bench-${name}-` });
    try {
      if (name === "store") {
        for (const r of await benchStore({ events, dir })) print(JSON.stringify(r));
      }
      if (name === "commit") {
        const { benchCommit } = await import("../bench/commit_bench.ts");
        const commits = flagEvents ?? 3000;
        for (const r of await benchCommit({ commits, dir })) print(JSON.stringify(r));
      }
      if (name === "search") {
        const { benchSearch } = await import("../bench/search_bench.ts");
        const n = flagEvents ?? 10_000_000;
        for (const r of await benchSearch({ events: n, dir })) print(JSON.stringify(r));
      }
      if (name === "scale") {
        const { benchScale } = await import("../bench/scale_bench.ts");
        await benchScale({
          events,
          dir,
          fillOnly: values["fill-only"] === true,
          exportOnly: values["export-only"] === true,
          serveOnly: values["serve-only"] === true,
          ...(sourcesSeconds === undefined ? {} : { sources: { seconds: sourcesSeconds } }),
          ...(budgetS === undefined ? {} : { budgetS }),
          reindex: values.reindex === true,
          log: (r) => print(JSON.stringify(r)),
        });
      }
      if (name === "detect") {
        const { benchDetect } = await import("../detect/bench.ts");
        for (const r of await benchDetect({ events, dir })) print(JSON.stringify(r));
      }
    } finally {
      if (keptDir === undefined) await Deno.remove(dir, { recursive: true });
    }
  }
  return 0;
}

/**
 * `vigil bench export [--events N]`: Parquet export against DuckDB's COPY, run as a child Deno
 * on the bench script of a source checkout. DuckDB, the reference, loads a native library that
 * the appliance's permissions and bundle leave out on purpose, so it runs with its own.
 */
async function benchExport(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { events: { type: "string" } });
  const events = intFlag(values.events, "events") ?? 1_000_000;
  const script = new URL("../../tests/daemon/export/bench_export.ts", import.meta.url);
  try {
    await Deno.stat(script);
  } catch {
    throw new UsageError(`bench export needs a source checkout: no ${script.pathname}`);
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-ffi",
      "--allow-sys",
      script.pathname,
      String(events),
    ],
    stdin: "null",
  }).spawn();
  return (await child.status).code;
}
