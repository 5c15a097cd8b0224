/**
 * The source plugins Vigil knows, as an explicit list: adding a collection method means adding
 * its folder under `plugins/` and one line here — nothing is discovered by scanning
 * directories. `daemon/` never imports from `plugins/`; whoever wires the daemon together
 * (the `serve` command) looks a `[[sources]]` table's `type` up here.
 */

import type { Source } from "../daemon/source.ts";
import { PGAUDIT_PLUGIN } from "./pgaudit/mod.ts";
import { WAL_PLUGIN } from "./wal/mod.ts";

/** One kind of source, as a `[[sources]]` table of the configuration names it by `type`. */
export interface SourcePlugin {
  /** The `type` key's value, e.g. `"wal"`. */
  readonly type: string;
  /**
   * Checks a `[[sources]]` table (with its `name` and `type`) without connecting anywhere.
   * Throws `TypeError` naming the bad key, so that `vigil validate` can point at its line.
   */
  validate(table: Readonly<Record<string, unknown>>): void;
  /** Builds the source from a table; throws as `validate` does. */
  create(table: Readonly<Record<string, unknown>>): Source;
  /**
   * "Test connection": checks, read-only and with a timeout, that a source built from this
   * table could run (server reachable, rights, files readable), one finding per line. Never
   * throws for what it finds; lines hold no secret.
   */
  probe?(table: Readonly<Record<string, unknown>>): Promise<{ ok: boolean; lines: string[] }>;
}

/** Every source plugin, in the order the docs list them. */
export const SOURCE_PLUGINS: readonly SourcePlugin[] = Object.freeze([WAL_PLUGIN, PGAUDIT_PLUGIN]);

/** The plugin of a source `type`. Throws `TypeError` listing the known types. */
export function sourcePlugin(type: string): SourcePlugin {
  const plugin = SOURCE_PLUGINS.find((p) => p.type === type);
  if (plugin === undefined) {
    const known = SOURCE_PLUGINS.map((p) => `"${p.type}"`).join(", ");
    throw new TypeError(`Unknown source type ${JSON.stringify(type)}: use one of ${known}`);
  }
  return plugin;
}
