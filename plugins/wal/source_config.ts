/**
 * The settings of a WAL source, and their checks. A `[[sources]]` table of `type = "wal"` in the
 * configuration file arrives here as plain keys (`dsn`, `slot`, `publication`, and optional
 * tuning, listed with their kinds and ranges in {@link WAL_FIELDS}); code that builds a source
 * directly passes {@link WalSourceConfig}. Either way a bad value is refused before anything
 * connects, with a `ConfigKeyError` that names the key.
 */

import { checkOutsideDataDir } from "../../daemon/config/data_fence.ts";
import { readSecret } from "../../daemon/config/secret.ts";
import { checkFields, type ConfigField, ConfigKeyError } from "../../daemon/config/fields.ts";
import { REDACT_FIELDS, redactionFromTable } from "../../daemon/event/redact.ts";
import { checkSlotName } from "./replication_command.ts";
import { parseDsn, redactDsn } from "../../daemon/pgwire/mod.ts";

/** What a WAL source needs; see DESIGN.md, "Configuration". */
export interface WalSourceConfig {
  /** `postgres://user@host:port/db`: the database whose changes are collected. */
  dsn: string;
  /** The permanent logical slot (pgoutput); created if missing. */
  slot: string;
  /** The publication the slot streams; created `FOR ALL TABLES` if missing. */
  publication: string;
  /** Events per stored batch at most; default 2000. */
  batchMaxEvents?: number;
  /**
   * How long a change may wait for more before it is stored when the stream does not look idle
   * by itself; default 10 ms. An idle stream is flushed at once.
   */
  flushIntervalMs?: number;
  /** Interval of unsolicited status updates to the server; default 10 000 ms. */
  statusIntervalMs?: number;
  /** How long stopping waits for the server to end the stream cleanly; default 3000 ms. */
  closeTimeoutMs?: number;
  /**
   * How often the source writes a `vigil.heartbeat` message into the WAL and expects to read
   * it back; default 10 000 ms. 0 turns heartbeats off, and with them the watch for removed
   * event triggers.
   */
  heartbeatIntervalMs?: number;
  /** How long a heartbeat may take to come back before it is an alarm; default 3 intervals. */
  heartbeatTimeoutMs?: number;
  /** Store each heartbeat as a `message` event, not only as a position; default false. */
  storeHeartbeats?: boolean;
  /** Look for removed `vigil pg-install` event triggers every this many heartbeats; default 6. */
  triggerCheckHeartbeats?: number;
  /**
   * How often the source reads back the audit configuration in force (`config_read.ts`):
   * pgAudit scope, connection logging, log destination, Vigil's triggers, the publication;
   * default 300 000 ms (and once at start). 0 turns the reading off.
   */
  configCheckIntervalMs?: number;
}

/** A checked config with every default filled in. */
export type WalSettings = Required<WalSourceConfig>;

/** The defaults of the optional settings. */
export const WAL_DEFAULTS: Readonly<Omit<WalSettings, "dsn" | "slot" | "publication">> = Object
  .freeze({
    batchMaxEvents: 2000,
    flushIntervalMs: 10,
    statusIntervalMs: 10_000,
    closeTimeoutMs: 3000,
    heartbeatIntervalMs: 10_000,
    heartbeatTimeoutMs: 30_000,
    storeHeartbeats: false,
    triggerCheckHeartbeats: 6,
    configCheckIntervalMs: 300_000,
  });

/** Config-file key → setting, for the keys of a `[[sources]]` table of type "wal". */
const FILE_KEYS: Readonly<Record<string, keyof WalSourceConfig>> = {
  dsn: "dsn",
  slot: "slot",
  publication: "publication",
  batch_max_events: "batchMaxEvents",
  flush_interval_ms: "flushIntervalMs",
  status_interval_ms: "statusIntervalMs",
  close_timeout_ms: "closeTimeoutMs",
  heartbeat_interval_ms: "heartbeatIntervalMs",
  heartbeat_timeout_ms: "heartbeatTimeoutMs",
  store_heartbeats: "storeHeartbeats",
  trigger_check_heartbeats: "triggerCheckHeartbeats",
  config_check_interval_ms: "configCheckIntervalMs",
};

/** Why the Administration form refuses a DSN with a password in it: it would be stored as is. */
function passwordInDsn(dsn: string): string | null {
  try {
    return parseDsn(dsn).password === undefined
      ? null
      : "leave the password out of the connection URL and type it into the password field";
  } catch {
    return null; // A DSN that does not parse is the config check's to report.
  }
}

/**
 * The keys of a `[[sources]]` table of type "wal" besides `name` and `type`: the schema the
 * core checks (unknown keys, kinds, ranges) and the Administration form shows. The redaction
 * keys mean the same on every source; the pipeline applies them.
 */
export const WAL_FIELDS: readonly ConfigField[] = Object.freeze(
  [
    {
      key: "dsn",
      kind: "string",
      required: true,
      doc: "postgres://user@host:port/db?sslmode=…: the database whose changes are collected",
      form: {
        hint: "postgres://user@host:port/db, no password",
        masked: true,
        check: passwordInDsn,
      },
    },
    {
      key: "slot",
      kind: "string",
      required: true,
      doc: "the permanent logical replication slot (pgoutput); created if missing",
      form: {},
    },
    {
      key: "publication",
      kind: "string",
      required: true,
      doc: "the publication the slot streams; created FOR ALL TABLES if missing",
      form: {},
    },
    {
      key: "password_file",
      kind: "string",
      doc: "the password: a file, or a systemd credential name",
      form: {
        hint: "or an existing file",
        secret: { field: "password", hint: "stored in a 0600 file" },
      },
    },
    ...integer("batch_max_events", 1, 1_000_000, "events per stored batch at most; default 2000"),
    ...integer("flush_interval_ms", 0, 60_000, "longest wait for more changes; default 10"),
    ...integer("status_interval_ms", 100, 3_600_000, "status updates to the server; default 10000"),
    ...integer("close_timeout_ms", 0, 60_000, "wait for a clean end of stream; default 3000"),
    ...integer("heartbeat_interval_ms", 0, 3_600_000, "heartbeats into the WAL; 0: none"),
    ...integer("heartbeat_timeout_ms", 1, 86_400_000, "a heartbeat late by this is an alarm"),
    { key: "store_heartbeats", kind: "boolean", doc: "store heartbeats as message events" },
    ...integer("trigger_check_heartbeats", 1, 1_000_000, "look for removed event triggers"),
    ...integer(
      "config_check_interval_ms",
      0,
      86_400_000,
      "read back the audit configuration every …; 0: only at start; default 300000",
    ),
    ...REDACT_FIELDS,
  ] satisfies ConfigField[],
);

function integer(key: string, min: number, max: number, doc: string): ConfigField[] {
  return [{ key, kind: "integer", min, max, doc }];
}

/** Each integer setting's range, from the field list. */
const LIMITS: Readonly<Record<string, readonly [min: number, max: number]>> = Object.fromEntries(
  WAL_FIELDS.filter((f) => f.kind === "integer").map((f) => [FILE_KEYS[f.key]!, [f.min!, f.max!]]),
);

/**
 * Reads the keys of a `[[sources]]` table (`type = "wal"`) into a config. Throws `TypeError`
 * naming the key for an unknown key, a missing one or a bad value.
 *
 * @example
 * walConfigFromTable({ name: "billing", type: "wal", dsn: "postgres://vigil@db1/billing",
 *   slot: "vigil_billing", publication: "vigil_billing" });
 */
export function walConfigFromTable(table: Readonly<Record<string, unknown>>): WalSettings {
  const where = typeof table.name === "string" ? `WAL source "${table.name}"` : "WAL source";
  if (table.type !== undefined && table.type !== "wal") {
    throw new ConfigKeyError(
      "type",
      `Bad "type" in ${where}: expected "wal", got ${JSON.stringify(table.type)}`,
    );
  }
  checkFields(WAL_FIELDS, table, { where, extra: ["name", "type"] });
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(table)) {
    const setting = Object.hasOwn(FILE_KEYS, key) ? FILE_KEYS[key] : undefined;
    if (setting !== undefined) config[setting] = value;
  }
  const settings = checkWalConfig(config as unknown as WalSourceConfig, { where, fileKeys: true });
  redactionFromTable(table, where);
  // Nothing in a Vigil data directory is a CA file; the fence finds one by its marks.
  const root = parseDsn(settings.dsn).sslrootcert;
  if (root !== undefined) checkOutsideDataDir(root, { key: "dsn", where });
  if (table.password_file === undefined) return settings;
  // The password comes from a file or a systemd credential, not from the config file itself.
  if (typeof table.password_file !== "string" || table.password_file === "") {
    throw new ConfigKeyError(
      "password_file",
      `Bad "password_file" in ${where}: expected a non-empty string`,
    );
  }
  // Read before anything else may look at it: a password file in the data directory is one
  // the web UI wrote into its secrets/, never the signing key or another of Vigil's files.
  const credentials = Deno.env.get("CREDENTIALS_DIRECTORY");
  const secretPath = table.password_file.startsWith("/") || credentials === undefined
    ? table.password_file
    : `${credentials}/${table.password_file}`;
  checkOutsideDataDir(secretPath, { key: "password_file", where, secret: true });
  let password: string;
  try {
    password = readSecret(table.password_file);
  } catch (error) {
    throw new ConfigKeyError(
      "password_file",
      `Bad "password_file" in ${where}: ${(error as Error).message}`,
    );
  }
  const url = new URL(settings.dsn);
  if (url.password !== "") {
    throw new ConfigKeyError(
      "password_file",
      `Bad "password_file" in ${where}: the dsn has a password already`,
    );
  }
  url.password = encodeURIComponent(password);
  return { ...settings, dsn: url.toString() };
}

/**
 * Checks a config and fills in the defaults. Throws `TypeError` naming the key.
 * `where` names the source in messages; `fileKeys` names keys as the config file spells them.
 */
export function checkWalConfig(
  config: WalSourceConfig,
  opts: { where?: string; fileKeys?: boolean } = {},
): WalSettings {
  const where = opts.where ?? "WAL source";
  const name = (setting: keyof WalSourceConfig): string =>
    opts.fileKeys
      ? Object.keys(FILE_KEYS).find((k) => FILE_KEYS[k] === setting) ?? setting
      : setting;
  const bad = (setting: keyof WalSourceConfig, why: string): TypeError =>
    new ConfigKeyError(name(setting), `Bad "${name(setting)}" in ${where}: ${why}`);
  const text = (setting: "dsn" | "slot" | "publication"): string => {
    const value: unknown = config[setting];
    if (value === undefined) throw bad(setting, "it is required");
    if (typeof value !== "string" || value === "") {
      throw bad(setting, "expected a non-empty string");
    }
    return value;
  };

  const dsn = text("dsn");
  try {
    parseDsn(dsn);
  } catch (error) {
    // parseDsn's message already hides the password.
    throw bad("dsn", error instanceof Error ? error.message : `not a URL: ${redactDsn(dsn)}`);
  }
  const slot = text("slot");
  try {
    checkSlotName(slot);
  } catch (error) {
    throw bad("slot", error instanceof Error ? error.message : String(error));
  }
  const publication = text("publication");
  // PostgreSQL truncates identifiers past 63 bytes; a truncated name would be another name.
  if (new TextEncoder().encode(publication).length > 63 || publication.includes("\0")) {
    throw bad("publication", "at most 63 bytes and no NUL");
  }

  const settings: WalSettings = { dsn, slot, publication, ...WAL_DEFAULTS };
  for (const [setting, [min, max]] of Object.entries(LIMITS)) {
    const key = setting as Exclude<keyof typeof WAL_DEFAULTS, "storeHeartbeats">;
    const value: unknown = config[key];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw bad(key, `expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    settings[key] = value;
  }
  // A heartbeat late by a whole interval is normal under load; three are not.
  if (config.heartbeatTimeoutMs === undefined) {
    settings.heartbeatTimeoutMs = 3 * settings.heartbeatIntervalMs ||
      WAL_DEFAULTS.heartbeatTimeoutMs;
  }
  const store: unknown = config.storeHeartbeats;
  if (store !== undefined && typeof store !== "boolean") {
    throw bad("storeHeartbeats", `expected true or false, got ${JSON.stringify(store)}`);
  }
  settings.storeHeartbeats = store ?? false;
  return settings;
}
