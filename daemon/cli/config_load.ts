/**
 * Loads the config file the way `serve` and `validate` both need it: with the source plugins'
 * own checks for `[[sources]]` tables. This is where the daemon meets the plugins (DESIGN.md:
 * the core never imports a plugin; the command that wires the daemon together does).
 */

import { SOURCE_PLUGINS } from "../../plugins/mod.ts";
import { type ConfigCheckers, loadConfig, type VigilConfig } from "../config/config.ts";
import { withManaged } from "../config/managed.ts";
import { detectConfigFromTable } from "../detect/config.ts";
import { exportTargetFromTable } from "../export/target.ts";

/** The checks of every table the config may hold. */
export const CONFIG_CHECKERS: ConfigCheckers = {
  sources: SOURCE_PLUGINS,
  exportTarget(table) {
    exportTargetFromTable({ ...table });
  },
  detect(table) {
    detectConfigFromTable({ ...table });
  },
};

/**
 * Reads and checks a config file, with the sources and export targets the web UI manages in
 * the data directory (`managed.toml`); throws `ConfigError` naming file, line and key.
 */
export async function loadVigilConfig(file: string): Promise<VigilConfig> {
  return withManaged(await loadConfig(file, CONFIG_CHECKERS), CONFIG_CHECKERS);
}
