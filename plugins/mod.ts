/**
 * The source plugins Vigil knows, as an explicit list: adding a collection method means adding
 * its folder under `plugins/` and one line here — nothing is discovered by scanning
 * directories. `daemon/` never imports from `plugins/`; whoever wires the daemon together
 * (the `serve` command) looks a `[[sources]]` table's `type` up here. The interface a plugin
 * implements, `SourcePlugin`, lives beside `Source` in `daemon/source.ts`.
 */

export type { SourcePlugin };

import type { SourcePlugin } from "../daemon/source.ts";
import { PGAUDIT_PLUGIN } from "./pgaudit/mod.ts";
import { PROXY_PLUGIN } from "./proxy/mod.ts";
import { WAL_PLUGIN } from "./wal/mod.ts";

/** Every source plugin, in the order the docs list them. */
export const SOURCE_PLUGINS: readonly SourcePlugin[] = Object.freeze([
  WAL_PLUGIN,
  PGAUDIT_PLUGIN,
  PROXY_PLUGIN,
]);

/** The plugin of a source `type`. Throws `TypeError` listing the known types. */
export function sourcePlugin(type: string): SourcePlugin {
  const plugin = SOURCE_PLUGINS.find((p) => p.type === type);
  if (plugin === undefined) {
    const known = SOURCE_PLUGINS.map((p) => `"${p.type}"`).join(", ");
    throw new TypeError(`Unknown source type ${JSON.stringify(type)}: use one of ${known}`);
  }
  return plugin;
}
