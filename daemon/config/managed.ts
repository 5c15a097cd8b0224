/**
 * Sources, export targets and local retention an admin manages in the web UI. They live in
 * `managed.toml` in the data directory — the daemon may write there, while its config file is
 * read-only to it under systemd — with `[[sources]]` and `[[exports]]` tables and `[store]
 * retain_local` exactly as in the config file, checked by the same checks, and merged after the
 * config file's own (a name used in both, or a `retain_local` the config file sets already, is
 * an error naming the overlay's line: the config file's value is the one that counts). A
 * restart is needed before the packaged launcher grants network access to a host that only the
 * overlay names (`vigil permissions` reads it too). An overlay source that would read inside
 * the data directory (its `secrets/`, keys, `managed.toml` itself) is refused naming its key.
 */

import {
  type ConfigCheckers,
  ConfigError,
  type NamedTable,
  parseConfig,
  RETAIN_NEEDS_EXPORTS,
  type VigilConfig,
} from "./config.ts";
import { keyLine } from "./locate.ts";

/** The overlay's file name in the data directory. */
export const MANAGED_FILE = "managed.toml";

/**
 * The name prefix of the temp dir, inside the data directory, where a candidate overlay is
 * staged and checked before it replaces the live one (`managed_write.ts`).
 */
export const STAGING_PREFIX = ".managed-";

/** The overlay's path for a data directory. */
export function managedPath(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, "")}/${MANAGED_FILE}`;
}

/**
 * `config` with the overlay's sources and export targets added and its `retain_local` applied,
 * if the overlay exists.
 */
export async function withManaged(
  config: VigilConfig,
  checkers: ConfigCheckers,
): Promise<VigilConfig> {
  const file = managedPath(config.dataDir);
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return config;
    throw error;
  }
  // Its sources stay out of the data directory that holds it, as the file's own do. A staged
  // candidate is checked with its staging dir as the data dir: the real one is its parent.
  const fence = [config.dataDir];
  const dir = config.dataDir.replace(/\/+$/, "");
  if (dir.slice(dir.lastIndexOf("/") + 1).startsWith(STAGING_PREFIX)) {
    fence.push(dir.slice(0, dir.lastIndexOf("/")) || "/");
  }
  const overlay = parseConfig(text, file, checkers, { overlay: true, fence });
  const merge = (kind: "sources" | "exports", own: readonly NamedTable[]): NamedTable[] => {
    const names = new Set(own.map((t) => t.name));
    overlay[kind].forEach((t, i) => {
      if (names.has(t.name)) {
        throw new ConfigError(
          file,
          keyLine(text, [kind, i], "name"),
          `${kind}[${i}] ("${t.name}").name`,
          `"${t.name}" is used in ${config.file} already`,
        );
      }
    });
    return [...own, ...overlay[kind]];
  };
  const sources = merge("sources", config.sources);
  const exports = merge("exports", config.exports);
  const retainLocalMs = overlay.store.retainLocalMs;
  if (retainLocalMs !== null) {
    const retainError = (detail: string): ConfigError =>
      new ConfigError(file, keyLine(text, ["store"], "retain_local"), "store.retain_local", detail);
    if (config.store.retainLocalMs !== null) {
      throw retainError(`set in ${config.file} already, which decides it; remove it here`);
    }
    if (exports.length === 0) throw retainError(RETAIN_NEEDS_EXPORTS);
  }
  return {
    ...config,
    store: { ...config.store, retainLocalMs: config.store.retainLocalMs ?? retainLocalMs },
    sources,
    exports,
  };
}
