/**
 * The source plugins Vigil knows, as an explicit list: adding a collection method means adding
 * its folder under `plugins/` and one line here — nothing is discovered by scanning
 * directories, and nothing else outside the folder changes. `daemon/` never imports from
 * `plugins/`; whoever wires the daemon together (the `serve`, `validate`, `detect` and
 * `permissions` commands, the web UI) hands it this list. The interface a plugin implements,
 * `SourcePlugin`, lives beside `Source` in `daemon/source.ts`; the source contract test
 * (`tests/plugins/contract_test.ts`) runs every plugin listed here.
 */

import { type GapCommands, gapCommands } from "../daemon/detect/gap_commands.ts";
import { findSourcePlugin, type SourcePlugin } from "../daemon/source.ts";
import { PGAUDIT_PLUGIN } from "./pgaudit/mod.ts";
import { PROXY_PLUGIN } from "./proxy/mod.ts";
import { WAL_PLUGIN } from "./wal/mod.ts";

export type { SourcePlugin };

/** Every source plugin, in the order the docs list them. */
export const SOURCE_PLUGINS: readonly SourcePlugin[] = Object.freeze([
  WAL_PLUGIN,
  PGAUDIT_PLUGIN,
  PROXY_PLUGIN,
]);

/**
 * The gap and recovery commands of the core and every plugin: the one list detection, the
 * compliance report and the ingest API read.
 */
export const GAP_COMMANDS: GapCommands = gapCommands(SOURCE_PLUGINS);

/** The plugin of a source `type`. Throws `ConfigKeyError` (a `TypeError`) listing the types. */
export function sourcePlugin(type: string): SourcePlugin {
  return findSourcePlugin(SOURCE_PLUGINS, type);
}
