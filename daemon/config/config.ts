/**
 * The configuration file (one TOML file; DESIGN.md, "Configuration"). Unknown keys are errors,
 * and every error names the file, the line and the key, so that `vigil validate` points an admin
 * at the exact place, the key from the check's `ConfigKeyError` (`fields.ts`), never guessed
 * from a message. A `[[sources]]` table is checked against its plugin's field list, then by
 * the plugin; export targets and the detector check their own tables through the callbacks of
 * {@link ConfigCheckers}: the daemon's core knows no plugin, it is handed the registry. No
 * source may read inside the data directory (`data_fence.ts`): the check names the key that
 * would. Nor may an export target write there, by a relative path, or to a metadata address
 * (`export_places.ts`).
 */

import { parse, TomlError } from "smol-toml";
import { parseDuration } from "./duration.ts";
import { keyLine, type TablePath } from "./locate.ts";
import { type ListenAddress, parseListen } from "./listen.ts";
import { fenceSource } from "./source_paths.ts";
import { checkFields, ConfigKeyError } from "./fields.ts";
import { findSourcePlugin, type SourcePlugin } from "../source.ts";
import { checkExportPlace } from "./export_places.ts";

export type { ListenAddress } from "./listen.ts";

/** A config file that cannot be used, with the place of the problem. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly file: string,
    readonly line: number,
    readonly key: string | undefined,
    detail: string,
  ) {
    super(`${file}:${line}: ${key === undefined ? "" : `${key}: `}${detail}`);
  }
}

/** A `[[sources]]` or `[[exports]]` table: its name, its type and all its keys. */
export interface NamedTable {
  readonly name: string;
  readonly type: string;
  readonly table: Readonly<Record<string, unknown>>;
}

/** A checked configuration. */
export interface VigilConfig {
  readonly file: string;
  readonly dataDir: string;
  readonly web: {
    readonly listen: ListenAddress;
    readonly tlsCert: string | null;
    readonly tlsKey: string | null;
  };
  readonly log: { readonly level: "debug" | "info" | "warn" | "error" };
  readonly store: {
    readonly checkpointIntervalMs: number;
    readonly maxSegmentBytes: number;
    readonly maxSegmentAgeMs: number;
    /**
     * How long sealed segments stay on the box after every export target holds them; null
     * keeps them forever (and so without export targets).
     */
    readonly retainLocalMs: number | null;
    /** Store sealed segments compressed (`compress_sealed`, default true). */
    readonly compressSealed: boolean;
  };
  readonly sources: readonly NamedTable[];
  readonly exports: readonly NamedTable[];
  /** The `[detect]` table as written (checked by `checkers.detect`), or null. */
  readonly detect: Readonly<Record<string, unknown>> | null;
}

/**
 * The checks of tables the core does not own; each throws `ConfigKeyError` naming the bad key
 * (a plain `TypeError` is reported at the table's header).
 */
export interface ConfigCheckers {
  /** The source types a `[[sources]]` table may name: the registry (`plugins/mod.ts`). */
  sources: readonly SourcePlugin[];
  exportTarget?(table: Readonly<Record<string, unknown>>): void;
  detect?(table: Readonly<Record<string, unknown>>): void;
}

const ROOT_KEYS = new Set(["data_dir", "web", "log", "store", "sources", "exports", "detect"]);
/** What the web UI's overlay file may hold (daemon/config/managed.ts). */
const OVERLAY_KEYS = new Set(["store", "sources", "exports"]);
const STORE_KEYS = [
  "checkpoint_interval",
  "max_segment_bytes",
  "max_segment_age",
  "retain_local",
  "compress_sealed",
];
/** Of `[store]`, the overlay holds local retention alone. */
const OVERLAY_STORE_KEYS = ["retain_local"];
/** Why `retain_local` without export targets is refused. */
export const RETAIN_NEEDS_EXPORTS =
  "needs at least one [[exports]] target: segments are deleted only once exported";
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$/;
const LEVELS = ["debug", "info", "warn", "error"] as const;

type Table = Record<string, unknown>;

function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Reads and checks a config file. Throws `ConfigError` (or `Deno.errors.*` if unreadable). */
export async function loadConfig(file: string, checkers: ConfigCheckers): Promise<VigilConfig> {
  return parseConfig(await Deno.readTextFile(file), file, checkers);
}

/** Checks config text; `file` names it in errors. */
export function parseConfig(
  text: string,
  file: string,
  checkers: ConfigCheckers,
  opts: {
    overlay?: boolean;
    /** The data directories sources must stay out of; default the file's own `data_dir`. */
    fence?: readonly string[];
  } = {},
): VigilConfig {
  const rootKeys = opts.overlay ? OVERLAY_KEYS : ROOT_KEYS;
  let doc: Table;
  try {
    doc = parse(text) as Table;
  } catch (error) {
    if (error instanceof TomlError) {
      throw new ConfigError(file, error.line, undefined, error.message.split("\n")[0]!);
    }
    throw error;
  }
  const fail = (path: TablePath, key: string | undefined, detail: string): never => {
    const where = path.length === 0
      ? key
      : key === undefined
      ? describe(path, doc)
      : `${describe(path, doc)}.${key}`;
    throw new ConfigError(file, keyLine(text, path, key), where, detail);
  };
  /**
   * Runs a table check. A `ConfigKeyError` names its key path, which gives the line; another
   * `TypeError` is about the table as a whole, reported at its header.
   */
  const check = (path: TablePath, table: Table, fn: (t: Table) => void): void => {
    try {
      fn(table);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      if (!(error instanceof ConfigKeyError)) return fail(path, undefined, error.message);
      const [sub, key] = keyPlace(path, error.key);
      const line = keyLine(text, sub, key);
      const where = `${describe(path, doc)}.${error.key}`;
      throw new ConfigError(file, line, where, error.message);
    }
  };

  for (const key of Object.keys(doc)) {
    if (!rootKeys.has(key)) {
      fail([], key, `unknown key; the keys are ${[...rootKeys].join(", ")}`);
    }
  }
  const dataDir = opts.overlay ? "" : doc.data_dir;
  if (typeof dataDir !== "string" || (dataDir === "" && !opts.overlay)) {
    fail([], "data_dir", "required: the directory of the store (e.g. /var/lib/vigil)");
  }

  const section = (name: string, keys: readonly string[]): Table => {
    const t = doc[name] ?? {};
    if (!isTable(t)) return fail([], name, "expected a table");
    for (const k of Object.keys(t)) {
      if (!keys.includes(k)) fail([name], k, `unknown key; the keys are ${keys.join(", ")}`);
    }
    return t;
  };
  const str = (path: TablePath, t: Table, k: string): string | null => {
    const v = t[k];
    if (v === undefined) return null;
    if (typeof v !== "string" || v === "") return fail(path, k, "expected a non-empty string");
    return v;
  };

  const web = section("web", ["listen", "tls_cert", "tls_key"]);
  let listen: ListenAddress;
  try {
    listen = parseListen(str(["web"], web, "listen") ?? "127.0.0.1:8443");
  } catch (error) {
    return fail(["web"], "listen", (error as Error).message);
  }
  const tlsCert = str(["web"], web, "tls_cert");
  const tlsKey = str(["web"], web, "tls_key");
  if ((tlsCert === null) !== (tlsKey === null)) {
    fail(["web"], tlsCert === null ? "tls_key" : "tls_cert", "tls_cert and tls_key go together");
  }
  if (!listen.loopback && tlsCert === null) {
    fail(
      ["web"],
      "listen",
      `${listen.hostname} is not a loopback address: set tls_cert and tls_key, so that ` +
        "passwords and audit data never cross the network in clear text",
    );
  }

  const logT = section("log", ["level"]);
  const level = logT.level ?? "info";
  if (!LEVELS.includes(level as never)) {
    fail(["log"], "level", `expected one of ${LEVELS.join(", ")}, got ${JSON.stringify(level)}`);
  }

  const storeT = section("store", opts.overlay ? OVERLAY_STORE_KEYS : STORE_KEYS);
  const duration = (k: string, def: number): number => {
    if (storeT[k] === undefined) return def;
    try {
      return parseDuration(storeT[k]);
    } catch (error) {
      return fail(["store"], k, (error as Error).message);
    }
  };
  const maxBytes = storeT.max_segment_bytes ?? 64 * 1024 * 1024;
  if (typeof maxBytes !== "number" || !Number.isInteger(maxBytes) || maxBytes < 1024 * 1024) {
    fail(["store"], "max_segment_bytes", "expected an integer of at least 1048576 (1 MiB)");
  }

  const compressSealed = storeT.compress_sealed ?? true;
  if (typeof compressSealed !== "boolean") {
    fail(["store"], "compress_sealed", "expected true or false");
  }

  const named = (kind: "sources" | "exports", run: (t: Table) => void): NamedTable[] => {
    const list = doc[kind] ?? [];
    if (!Array.isArray(list)) return fail([], kind, `expected [[${kind}]] tables`);
    const seen = new Set<string>();
    return list.map((t, i): NamedTable => {
      const path = [kind, i] as const;
      if (!isTable(t)) return fail(path, undefined, "expected a table");
      const name = t.name;
      if (typeof name !== "string" || !NAME.test(name)) {
        fail(path, "name", "required: letters, digits, '_', '.', '-' (at most 63)");
      }
      if (seen.has(name as string)) fail(path, "name", `"${name}" is used twice`);
      seen.add(name as string);
      if (typeof t.type !== "string") fail(path, "type", "required");
      check(path, t, run);
      return { name: name as string, type: t.type as string, table: t };
    });
  };
  // The overlay's targets are counted once it is merged (withManaged).
  if (storeT.retain_local !== undefined && !Array.isArray(doc.exports) && !opts.overlay) {
    fail(["store"], "retain_local", RETAIN_NEEDS_EXPORTS);
  }
  const fence = opts.fence ?? (opts.overlay ? [] : [dataDir as string]);
  const sources = named("sources", (t) => {
    const plugin = findSourcePlugin(checkers.sources, t.type);
    checkFields(plugin.fields, t, {
      where: `${plugin.label} "${String(t.name)}"`,
      extra: ["name", "type"],
    });
    // Before the plugin's check, which may read a file the table names (a password file).
    fenceSource(plugin, t, fence);
    plugin.validate(t);
  });
  const exports = named("exports", (t) => {
    if (checkers.exportTarget === undefined) {
      throw new TypeError(`"type" ${JSON.stringify(t.type)}: export targets are not available`);
    }
    checkers.exportTarget(t);
    // Absolute, outside the data directory, never a metadata address (export_places.ts).
    checkExportPlace(t, fence);
  });
  const detectT = doc.detect;
  if (detectT !== undefined) {
    if (!isTable(detectT)) fail([], "detect", "expected a table");
    if (checkers.detect !== undefined) check(["detect"], detectT as Table, checkers.detect);
  }

  return {
    file,
    dataDir: dataDir as string,
    web: { listen, tlsCert, tlsKey },
    log: { level: level as VigilConfig["log"]["level"] },
    store: {
      checkpointIntervalMs: duration("checkpoint_interval", 60_000),
      maxSegmentBytes: maxBytes as number,
      maxSegmentAgeMs: duration("max_segment_age", 3_600_000),
      retainLocalMs: storeT.retain_local === undefined ? null : duration("retain_local", 0),
      compressSealed: compressSealed as boolean,
    },
    sources,
    exports,
    detect: (detectT as Table | undefined) ?? null,
  };
}

/** `sources[1] ("billing")` for messages. */
function describe(path: TablePath, doc: Table): string {
  const [name, index] = path;
  if (typeof index !== "number") return String(name);
  const entry = (doc[name as string] as Table[] | undefined)?.[index];
  const label = typeof entry?.name === "string" ? ` (${JSON.stringify(entry.name)})` : "";
  return `${String(name)}[${index}]${label}`;
}

/**
 * The table and key of a key path under the table at `path`: `"redact[1]"` is the line of
 * `redact`; `"syslog.address"` under `["detect"]` is `address` in `[detect.syslog]`.
 */
function keyPlace(path: TablePath, keyPath: string): [TablePath, string] {
  const plain = keyPath.replace(/\[\d+\]$/, "");
  const dot = plain.lastIndexOf(".");
  if (dot < 0 || typeof path[1] === "number") return [path, plain];
  return [[[...path, plain.slice(0, dot)].join(".")], plain.slice(dot + 1)];
}
