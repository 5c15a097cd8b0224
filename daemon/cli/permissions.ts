/**
 * `vigil permissions --config FILE [--app-dir DIR] [--native-lib F] [--libcrypto F]
 * [--credentials-dir D] [--notify-socket P] [--runtime-dir D]`: prints the `deno run`
 * permission flags `vigil serve` needs for this config, one argument a line, so that the
 * launcher can pass them on (`mapfile -t`). It needs to read the config file and nothing else:
 * the launcher runs it with `--allow-read=<config>` alone and hands it systemd's paths as flags.
 */

import { ConfigError } from "../config/config.ts";
import { derivePermissions, permissionFlags } from "../config/permissions.ts";
import { SOURCE_PLUGINS } from "../../plugins/mod.ts";
import { print } from "../log.ts";
import { noRest, parseFlags, required } from "./args.ts";
import { loadVigilConfig } from "./config_load.ts";

/** Debian's and Ubuntu's OpenSSL 3 on x86-64, the first path daemon/store/sha256.ts tries. */
const DEFAULT_LIBCRYPTO = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3";

/** Runs `vigil permissions`; returns the exit code. */
export async function permissionsCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    config: { type: "string" },
    "app-dir": { type: "string" },
    "native-lib": { type: "string" },
    libcrypto: { type: "string" },
    "credentials-dir": { type: "string" },
    "notify-socket": { type: "string" },
    "runtime-dir": { type: "string" },
  });
  noRest(rest);
  const file = required(values.config, "config");
  // The bundle's own directory: vigil.js, its workers and the .wasm sit together.
  const appDir = values["app-dir"] || new URL(".", Deno.mainModule).pathname.replace(/\/$/, "");
  try {
    const config = await loadVigilConfig(file);
    const flags = permissionFlags(derivePermissions(config, {
      sources: SOURCE_PLUGINS,
      appDir,
      nativeLib: values["native-lib"] || null,
      libcrypto: values.libcrypto || DEFAULT_LIBCRYPTO,
      credentialsDir: values["credentials-dir"] || null,
      notifySocket: values["notify-socket"] || null,
      runtimeDir: values["runtime-dir"] || null,
    }));
    print(flags.join("\n"));
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      print(`invalid config: ${error.message}`);
      return 1;
    }
    if (error instanceof TypeError) {
      print(`cannot derive permissions: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
