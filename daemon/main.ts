/**
 * The `vigil` command: dispatches to one module per command. Exit codes: 0 success, 1 the
 * command ran and found a problem (bad input lines, a damaged store), 2 usage error, and
 * 3 an operational failure (a file that cannot be read, a locked data directory).
 */

import { UsageError } from "./cli/args.ts";
import { benchCommand } from "./cli/bench.ts";
import { ingestCommand } from "./cli/ingest.ts";
import { pgInstallCommand } from "./cli/pg_install.ts";
import { proveCommand } from "./cli/prove.ts";
import { pubkeyCommand } from "./cli/pubkey.ts";
import { queryCommand } from "./cli/query.ts";
import { reindexCommand } from "./cli/reindex.ts";
import { verifyCommand } from "./cli/verify.ts";
import { print } from "./log.ts";
import { StoreDamageError, StoreLockedError } from "./store/errors.ts";
import denoJson from "../deno.json" with { type: "json" };

/** Vigil's version, from deno.json. */
export const VERSION: string = denoJson.version;

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  serve: {
    run: async (argv) => (await import("./cli/serve.ts")).serveCommand(argv, VERSION),
    help: "serve --config FILE    run the daemon: sources, store, web UI (SIGHUP reloads)",
  },
  validate: {
    run: async (argv) => (await import("./cli/validate.ts")).validateCommand(argv),
    help: "validate --config FILE    check a config file; errors name the line and key",
  },
  permissions: {
    run: async (argv) => (await import("./cli/permissions.ts")).permissionsCommand(argv),
    help: "permissions --config FILE [--app-dir D] [--native-lib F]   the deno run flags " +
      "serve needs for this config, one a line",
  },
  ingest: {
    run: ingestCommand,
    help: "ingest --data DIR --source NAME    append JSON-lines events from stdin",
  },
  verify: {
    run: verifyCommand,
    help: "verify --data DIR [--pubkey F] [--checkpoint F] [--json]   verify the store",
  },
  query: {
    run: queryCommand,
    help: "query --data DIR [--source --kind --role --db --object --command --from --to " +
      "--text --limit] [--format jsonl|table]   search events",
  },
  prove: {
    run: proveCommand,
    help: "prove --data DIR --seq N [--from-size M]   inclusion (and consistency) proof as JSON",
  },
  reindex: { run: reindexCommand, help: "reindex --data DIR    rebuild the search index" },
  compact: {
    run: async (argv) => (await import("./cli/compact.ts")).compactCommand(argv),
    help: "compact --data DIR    store every sealed segment compressed",
  },
  pubkey: {
    run: pubkeyCommand,
    help: "pubkey --data DIR    print the checkpoint signing public key (PEM)",
  },
  key: {
    run: async (argv) => (await import("./cli/key.ts")).keyCommand(argv),
    help: "key rotate --data DIR [--reason TEXT] [--by NAME] [--recover]   rotate the signing " +
      "key, recorded in the chain (--recover: declare a lost key); key list --data DIR",
  },
  "pg-install": {
    run: pgInstallCommand,
    help: "pg-install --dsn DSN    install the PostgreSQL-side SQL (event triggers, context)",
  },
  // Loaded on use: the Parquet writer and reader are needed by these two commands alone.
  export: {
    run: async (argv) => (await import("./cli/export.ts")).exportCommand(argv),
    help: "export --data DIR --out DIR [--from T] [--to T]   write a signed air-gapped bundle",
  },
  "verify-bundle": {
    run: async (argv) => (await import("./cli/verify_bundle.ts")).verifyBundleCommand(argv),
    help: "verify-bundle DIR [--pubkey F] [--json]   verify a bundle offline",
  },
  "export-run": {
    run: async (argv) => (await import("./cli/export_run.ts")).exportRunCommand(argv),
    help: "export-run --data DIR --config FILE [--target NAME] [--retain-local-days N]   " +
      "export to the [[exports]] targets once (resumes an interrupted export)",
  },
  user: {
    run: async (argv) => (await import("./cli/user.ts")).userCommand(argv),
    help: "user add --data DIR --name N --role admin|auditor|operator   add a UI user " +
      "(password on stdin); user list --data DIR",
  },
  detect: {
    run: async (argv) => (await import("./cli/detect.ts")).detectCommand(argv),
    help: "detect --data DIR [--from T] [--to T] [--config F]   run the detectors over stored " +
      "events (event time) and rebuild the alerts",
  },
  alerts: {
    run: async (argv) => (await import("./cli/alerts.ts")).alertsCommand(argv),
    help: "alerts --data DIR [--rule --role --severity --from --to --limit] [--format " +
      "jsonl|table]   list alerts; alerts ack --data DIR --id N --by NAME --note TEXT",
  },
  bench: {
    run: benchCommand,
    help: "bench [store|detect|search|scale|export|<source type>]    benchmarks, one JSON " +
      "object a line",
  },
};

function usage(): string {
  return [
    `vigil ${VERSION} — tamper-evident audit appliance for PostgreSQL`,
    "",
    "usage: vigil <command> [flags]",
    "",
    ...Object.values(COMMANDS).map((c) => `  vigil ${c.help}`),
    "  vigil --help | --version",
    "",
    "Times are RFC 3339. Exit codes: 0 ok, 1 problem found, 2 usage error, 3 failure.",
  ].join("\n");
}

/** Runs the command line; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    print(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-V") {
    print(`vigil ${VERSION}`);
    return 0;
  }
  const cmd = COMMANDS[name];
  try {
    if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(name)} (see vigil --help)`);
    if (rest.includes("--help") || rest.includes("-h")) {
      print(`usage: vigil ${cmd.help}`);
      return 0;
    }
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`vigil ${name}: ${e.message}`);
      return 2;
    }
    if (e instanceof StoreDamageError) {
      console.error(`vigil ${name}: store damaged: ${e.message} (run vigil verify)`);
      return 1;
    }
    const msg = e instanceof StoreLockedError ? e.message : (e as Error)?.message ?? String(e);
    console.error(`vigil ${name}: ${msg}`);
    return 3;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
