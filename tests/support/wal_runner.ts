/**
 * The daemon's data path cut down to one WAL source, for the crash tests: the same store and
 * `runSource` pipeline as `vigil serve`, without the web UI, detection and exports, so that a
 * kill -9 lands in the collection path and nowhere else. Opens the store in `--data`, runs the
 * source into it until SIGTERM (or SIGINT), then stops the source and closes the store cleanly.
 * Like the daemon's supervisor, it starts the source again after a failure (with a line
 * `source failed: …` on stderr). Prints one line "ready" to stdout once its replication
 * connection streams, so that a test can kill it at moments that matter.
 *
 * `deno run --allow-read --allow-write --allow-net=127.0.0.1 --allow-env --allow-ffi
 *  tests/support/wal_runner.ts --data DIR --dsn DSN --slot S --publication P`
 */

import { runSource } from "../../daemon/pipeline.ts";
import { Store } from "../../daemon/store/store.ts";
import { connect } from "../../daemon/pgwire/mod.ts";
import { walSource } from "../../plugins/wal/mod.ts";

/** The argv (after the deno binary) that runs this program with its narrow permissions. */
export function walRunnerArgv(opts: {
  data: string;
  dsn: string;
  slot: string;
  publication: string;
}): string[] {
  return [
    "run",
    "--quiet",
    "--no-prompt",
    "--allow-read",
    "--allow-write",
    "--allow-net=127.0.0.1",
    "--allow-env",
    "--allow-ffi",
    new URL(import.meta.url).pathname,
    ...["--data", opts.data, "--dsn", opts.dsn],
    ...["--slot", opts.slot, "--publication", opts.publication],
  ];
}

function flag(name: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  const value = i >= 0 ? Deno.args[i + 1] : undefined;
  if (value === undefined) {
    throw new TypeError(
      `Missing --${name}; usage: wal_runner.ts --data DIR --dsn DSN --slot S --publication P`,
    );
  }
  return value;
}

/** The DSN with an `application_name` that finds this runner's walsender. */
function withApplicationName(dsn: string, name: string): string {
  const url = new URL(dsn);
  url.searchParams.set("application_name", name);
  return url.toString();
}

/** True once a walsender named `name` streams; false when `stopped()` says to give up. */
async function streaming(dsn: string, name: string, stopped: () => boolean): Promise<boolean> {
  const conn = await connect(dsn);
  try {
    while (!stopped()) {
      const r = await conn.query(
        `SELECT 1 FROM pg_stat_replication WHERE application_name = '${name}' ` +
          `AND state = 'streaming'`,
      );
      if (r.rows.length > 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return false;
  } finally {
    await conn.close();
  }
}

async function main(): Promise<void> {
  const data = flag("data");
  const dsn = flag("dsn");
  const name = `vigil_runner_${Deno.pid}`;
  const store = await Store.open(data, { checkpointIntervalMs: 0 });
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  const source = walSource({
    dsn: withApplicationName(dsn, name),
    slot: flag("slot"),
    publication: flag("publication"),
    // The crash tests count the stream's events; the configuration read-back is tested apart.
    configCheckIntervalMs: 0,
  });
  // As the daemon's supervisor does: a failed run is reported and the source started again.
  const running = (async () => {
    for (let failures = 0; !ac.signal.aborted; failures++) {
      try {
        await runSource(store, source, { name: "wal", signal: ac.signal });
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        await Deno.stderr.write(new TextEncoder().encode(`source failed: ${why}\n`));
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** failures)));
      }
    }
  })();
  try {
    if (await streaming(dsn, name, () => ac.signal.aborted)) {
      await Deno.stdout.write(new TextEncoder().encode("ready\n"));
    }
    await running;
  } finally {
    Deno.removeSignalListener("SIGTERM", stop);
    Deno.removeSignalListener("SIGINT", stop);
    await store.close();
  }
}

if (import.meta.main) await main();
