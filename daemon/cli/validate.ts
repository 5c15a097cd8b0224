/**
 * `vigil validate --config FILE`: checks a config file without starting anything (no
 * connection, no data dir): exit 0 and a one-line summary, or exit 1 and the error with its
 * file, line and key. systemd runs it before every start (`ExecStartPre=`).
 */

import { ConfigError } from "../config/config.ts";
import { print } from "../log.ts";
import { noRest, parseFlags, required } from "./args.ts";
import { loadVigilConfig } from "./config_load.ts";

/** Runs `vigil validate`; returns the exit code. */
export async function validateCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, { config: { type: "string" } });
  noRest(rest);
  const file = required(values.config, "config");
  try {
    const c = await loadVigilConfig(file);
    print(
      `${file}: ok — data_dir ${c.dataDir}, listen ${c.web.listen.hostname}:${c.web.listen.port}` +
        `${c.web.tlsCert === null ? "" : " (TLS)"}, ${c.sources.length} source(s), ` +
        `${c.exports.length} export target(s)`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      print(`invalid config: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
