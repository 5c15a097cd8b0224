/**
 * What the Administration page shows of the sources, export targets and local retention, read
 * afresh on each view: the config file's own (read-only to the UI) and the data directory's
 * `managed.toml` (the UI's). The config the daemon started with says where both are; it is not
 * itself shown, since a reload or another admin may have changed them since.
 */

import { CONFIG_CHECKERS } from "../../daemon/cli/config_load.ts";
import { loadConfig, type NamedTable } from "../../daemon/config/config.ts";
import { formatDuration } from "../../daemon/config/duration.ts";
import { type ManagedDoc, readManaged } from "../../daemon/config/managed_write.ts";

/** Where the configuration lives, from the config `vigil serve` started with. */
export interface ConfigPlace {
  file: string;
  dataDir: string;
}

/** Both lists of each kind, for the page. */
export interface ConfigState {
  place: ConfigPlace;
  fileSources: readonly NamedTable[];
  fileExports: readonly NamedTable[];
  /** The config file's own `[store] retain_local`, which the UI cannot change; or null. */
  fileRetainLocal: string | null;
  managed: ManagedDoc;
  /** Why a list could not be read (a config file edited into an error since the start). */
  error?: string;
}

/** The place of a loaded `VigilConfig`, or null for anything else (tests pass plain objects). */
export function configPlace(config: unknown): ConfigPlace | null {
  if (config === null || typeof config !== "object") return null;
  const { file, dataDir } = config as Record<string, unknown>;
  return typeof file === "string" && typeof dataDir === "string" ? { file, dataDir } : null;
}

/** Reads both lists; a read error is shown on the page rather than failing it. */
export async function readConfigState(place: ConfigPlace): Promise<ConfigState> {
  const state: ConfigState = {
    place,
    fileSources: [],
    fileExports: [],
    fileRetainLocal: null,
    managed: { sources: [], exports: [], retainLocal: null },
  };
  try {
    const own = await loadConfig(place.file, CONFIG_CHECKERS);
    state.fileSources = own.sources;
    state.fileExports = own.exports;
    const ms = own.store.retainLocalMs;
    state.fileRetainLocal = ms === null ? null : formatDuration(ms);
    state.managed = await readManaged(place.dataDir);
  } catch (error) {
    state.error = `The configuration cannot be read: ${(error as Error).message}`;
  }
  return state;
}
