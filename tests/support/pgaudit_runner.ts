/**
 * The daemon's data path cut down to one pgAudit source, for the crash tests: the same store and
 * `runSource` pipeline as `vigil serve`, without the web UI, detection and exports, so that a
 * kill -9 lands in the collection path and nowhere else. Opens the store in `--data`, runs the
 * source into it until SIGTERM (or SIGINT), then stops it and closes the store cleanly. Like the daemon's supervisor, it starts the source again after a failure
 * (with a line `source failed: …` on stderr). Prints one line "ready" once the store is open and
 * the source runs, so that a test can kill it at moments that matter.
 *
 * `deno run --allow-read --allow-write --allow-env --allow-ffi tests/support/pgaudit_runner.ts
 *  --data DIR --path GLOB --format csvlog|jsonlog|stderr [--prefix P] [--current-logfiles F]`
 */

import { runSource } from "../../daemon/pipeline.ts";
import { Store } from "../../daemon/store/store.ts";
import { pgauditSource, type PgauditSourceConfig } from "../../plugins/pgaudit/mod.ts";

/** What the runner needs. */
export interface PgauditRunnerOptions {
  data: string;
  path: string;
  format: "csvlog" | "jsonlog" | "stderr";
  logLinePrefix?: string;
  currentLogfiles?: string;
}

/** The argv (after the deno binary) that runs this program with its narrow permissions. */
export function pgauditRunnerArgv(opts: PgauditRunnerOptions): string[] {
  return [
    "run",
    "--quiet",
    "--no-prompt",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-ffi",
    new URL(import.meta.url).pathname,
    ...["--data", opts.data, "--path", opts.path, "--format", opts.format],
    ...(opts.logLinePrefix === undefined ? [] : ["--prefix", opts.logLinePrefix]),
    ...(opts.currentLogfiles === undefined ? [] : ["--current-logfiles", opts.currentLogfiles]),
  ];
}

function flag(name: string, required = true): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  const value = i >= 0 ? Deno.args[i + 1] : undefined;
  if (value === undefined && required) {
    throw new TypeError(
      `Missing --${name}; usage: pgaudit_runner.ts --data DIR --path GLOB --format F ` +
        "[--prefix P] [--current-logfiles F]",
    );
  }
  return value;
}

async function main(): Promise<void> {
  const prefix = flag("prefix", false);
  const current = flag("current-logfiles", false);
  const config: PgauditSourceConfig = {
    path: flag("path")!,
    format: flag("format") as PgauditSourceConfig["format"],
    poll_interval_ms: 50,
    rotation_grace_ms: 1000,
    ...(prefix === undefined ? {} : { log_line_prefix: prefix }),
    ...(current === undefined ? {} : { current_logfiles: current }),
  };
  const source = pgauditSource(config);
  const store = await Store.open(flag("data")!, { checkpointIntervalMs: 0 });
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  const running = (async () => {
    for (let failures = 0; !ac.signal.aborted; failures++) {
      try {
        await runSource(store, source, { name: "pgaudit", signal: ac.signal });
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        await Deno.stderr.write(new TextEncoder().encode(`source failed: ${why}\n`));
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** failures)));
      }
    }
  })();
  // A test killed outright cannot stop its children: once orphaned, stop as if told to.
  const orphaned = setInterval(() => {
    if (Deno.ppid === 1) stop();
  }, 1000);
  try {
    await Deno.stdout.write(new TextEncoder().encode("ready\n"));
    await running;
  } finally {
    clearInterval(orphaned);
    Deno.removeSignalListener("SIGTERM", stop);
    Deno.removeSignalListener("SIGINT", stop);
    await store.close();
  }
}

if (import.meta.main) await main();
