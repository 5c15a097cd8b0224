/**
 * The configuration of a pgAudit source: a `[[sources]]` table of `type = "pgaudit"` (see
 * DESIGN.md, "Configuration"), checked key by key against {@link PGAUDIT_FIELDS}, then for
 * what a field list cannot say. Every error is a `ConfigKeyError` that names the key, so that
 * `vigil validate` can point at its line; unknown keys are errors.
 */

import { checkOutsideDataDir } from "../../daemon/config/data_fence.ts";
import { checkFields, type ConfigField, ConfigKeyError } from "../../daemon/config/fields.ts";
import { REDACT_FIELDS, redactionFromTable } from "../../daemon/event/redact.ts";
import { defaultCurrentLogfiles } from "./current_logfiles.ts";
import { LOG_FORMATS, type LogFormat } from "./decoder.ts";
import { checkEventOptions } from "./events.ts";
import { compileGlob } from "./glob.ts";
import { compileLogLinePrefix } from "./stderr_prefix.ts";

/** A pgAudit source's settings, with file keys as in the configuration. */
export interface PgauditSourceConfig {
  /** Glob of the log files: a directory and a file-name pattern (`/var/log/pg/*.csv`). */
  path: string;
  format: LogFormat;
  /** The server's `log_line_prefix`, exactly; required for (and only for) `stderr`. */
  log_line_prefix?: string;
  /** The server's `log_error_verbosity`; `verbose` adds SQLSTATEs to stderr lines. */
  log_error_verbosity?: "terse" | "default" | "verbose";
  /** The server's `log_timezone` (IANA name); default `UTC`. */
  timezone?: string;
  /**
   * PostgreSQL's `current_logfiles`, to know which file is current; default the one in the
   * log directory's parent (a data directory's `log/`), used when it exists; `false`: never.
   */
  current_logfiles?: string | false;
  /** How often files are looked at when there was nothing to read; default 250 ms. */
  poll_interval_ms?: number;
  /** How long a rotated-away file is still read after it last grew; default 5000 ms. */
  rotation_grace_ms?: number;
  /** Events per stored batch at most; default 2000. */
  batch_max_events?: number;
  /** Longest record held while its end has not come; default 16 MiB. */
  max_record_bytes?: number;
  /** Extra redaction rules: regular expressions (flags `gi`; a group `secret` is what goes). */
  redact?: string[];
  /** Apply the built-in redaction rules (passwords, connection strings); default true. */
  redact_defaults?: boolean;
}

/** A checked configuration with its defaults filled in. */
export interface PgauditSettings {
  path: string;
  format: LogFormat;
  logLinePrefix: string | undefined;
  verbose: boolean;
  timezone: string;
  currentLogfiles: string | false | undefined;
  pollIntervalMs: number;
  rotationGraceMs: number;
  batchMaxEvents: number;
  maxRecordBytes: number;
  redact: string[];
  redactDefaults: boolean;
}

/**
 * The keys of a `[[sources]]` table of type "pgaudit" besides `name` and `type`: the schema the
 * core checks (unknown keys, kinds, ranges) and the Administration form shows. The redaction
 * keys mean the same on every source; the pipeline applies them (daemon/event/redact.ts).
 */
export const PGAUDIT_FIELDS: readonly ConfigField[] = Object.freeze(
  [
    {
      key: "path",
      kind: "string",
      required: true,
      doc: "glob of the log files: a directory and a file-name pattern",
      form: { hint: "e.g. /var/log/postgresql/*.csv" },
    },
    {
      key: "format",
      kind: "string",
      required: true,
      values: LOG_FORMATS,
      doc: "the server's log format",
      form: {},
    },
    {
      key: "log_line_prefix",
      kind: "string",
      doc: "the server's log_line_prefix, exactly; for (and only for) stderr",
      form: { hint: "stderr only", untrimmed: true, when: { key: "format", values: ["stderr"] } },
    },
    {
      key: "log_error_verbosity",
      kind: "string",
      values: ["terse", "default", "verbose"],
      doc: "the server's log_error_verbosity",
    },
    {
      key: "timezone",
      kind: "string",
      doc: "the server's log_timezone (IANA name); default UTC",
      form: { hint: "log_timezone, default UTC" },
    },
    {
      key: "current_logfiles",
      kind: "string_or_false",
      doc: "PostgreSQL's current_logfiles; default the one beside the log directory; false: never",
    },
    ...integer("poll_interval_ms", 10, 60_000, "how often files are looked at when idle"),
    ...integer("rotation_grace_ms", 0, 3_600_000, "how long a rotated-away file is still read"),
    ...integer("batch_max_events", 1, 100_000, "events per stored batch at most"),
    ...integer("max_record_bytes", 4096, 32 * 1024 * 1024, "longest record held unfinished"),
    ...REDACT_FIELDS,
  ] satisfies ConfigField[],
);

function integer(key: string, min: number, max: number, doc: string): ConfigField[] {
  return [{ key, kind: "integer", min, max, doc }];
}

/** The defaults of the integer keys; their ranges are in the field list. */
const DEFAULTS: Readonly<Record<string, number>> = {
  poll_interval_ms: 250,
  rotation_grace_ms: 5000,
  batch_max_events: 2000,
  max_record_bytes: 16 * 1024 * 1024,
};

const LIMITS: Readonly<Record<string, readonly [number, number, number]>> = Object.fromEntries(
  PGAUDIT_FIELDS.filter((f) => f.kind === "integer")
    .map((f) => [f.key, [f.min!, f.max!, DEFAULTS[f.key]!]]),
);

/** Checks a `[[sources]]` table (with `name` and `type`); throws `TypeError` naming the key. */
export function pgauditConfigFromTable(table: Readonly<Record<string, unknown>>): PgauditSettings {
  const where = typeof table.name === "string"
    ? `pgAudit source "${table.name}"`
    : "pgAudit source";
  if (table.type !== undefined && table.type !== "pgaudit") {
    throw new ConfigKeyError(
      "type",
      `Bad "type" in ${where}: expected "pgaudit", got ${show(table.type)}`,
    );
  }
  checkFields(PGAUDIT_FIELDS, table, { where, extra: ["name", "type"] });
  return checkPgauditConfig(table as unknown as PgauditSourceConfig, where);
}

/** Checks a configuration; throws `TypeError` naming the bad key. */
export function checkPgauditConfig(
  c: PgauditSourceConfig,
  where = "pgAudit source",
): PgauditSettings {
  const bad = (key: string, why: string): TypeError =>
    new ConfigKeyError(key, `Bad "${key}" in ${where}: ${why}`);
  if (typeof c.path !== "string" || c.path === "") {
    throw bad("path", c.path === undefined ? "it is required" : "expected a non-empty string");
  }
  try {
    compileGlob(c.path);
  } catch (e) {
    throw bad("path", (e as Error).message);
  }
  if (!LOG_FORMATS.includes(c.format)) {
    throw bad("format", `expected one of ${LOG_FORMATS.join(", ")}, got ${show(c.format)}`);
  }
  const prefix = c.log_line_prefix;
  if (c.format === "stderr") {
    if (typeof prefix !== "string") throw bad("log_line_prefix", "required for format stderr");
    try {
      compileLogLinePrefix(prefix);
    } catch (e) {
      throw bad("log_line_prefix", (e as Error).message);
    }
  } else if (prefix !== undefined) {
    throw bad("log_line_prefix", `only for format stderr (${c.format} names every field)`);
  }
  const verbosity = c.log_error_verbosity ?? "default";
  if (!["terse", "default", "verbose"].includes(verbosity)) {
    throw bad("log_error_verbosity", `expected terse, default or verbose, got ${show(verbosity)}`);
  }
  const timezone = c.timezone ?? "UTC";
  try {
    if (typeof timezone !== "string") throw new TypeError("expected a string");
    checkEventOptions({ source: "check", timezone });
  } catch (e) {
    throw bad("timezone", (e as Error).message);
  }
  const cl = c.current_logfiles;
  if (cl !== undefined && cl !== false && (typeof cl !== "string" || cl === "")) {
    throw bad("current_logfiles", `expected a path or false, got ${show(cl)}`);
  }
  const numbers: Record<string, number> = {};
  for (const [key, [min, max, fallback]] of Object.entries(LIMITS)) {
    const v: unknown = (c as unknown as Record<string, unknown>)[key];
    if (v === undefined) numbers[key] = fallback;
    else if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      throw bad(key, `expected an integer from ${min} to ${max}, got ${show(v)}`);
    } else numbers[key] = v;
  }
  const redaction = redactionFromTable(c as unknown as Record<string, unknown>, where);
  return {
    path: c.path,
    format: c.format,
    logLinePrefix: prefix,
    verbose: verbosity === "verbose",
    timezone,
    currentLogfiles: cl,
    pollIntervalMs: numbers.poll_interval_ms!,
    rotationGraceMs: numbers.rotation_grace_ms!,
    batchMaxEvents: numbers.batch_max_events!,
    maxRecordBytes: numbers.max_record_bytes!,
    redact: [...redaction.patterns],
    redactDefaults: redaction.defaults,
  };
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/**
 * Refuses settings that would read inside a Vigil data directory (its signing key, secrets,
 * `managed.toml`, the log): the log directory and `current_logfiles`. The config check fences
 * the configured data directory already; this runs where no configuration is known — each
 * start of the source and each probe — and finds a data directory by its marks
 * (`daemon/config/data_fence.ts`), through symbolic links. Throws `TypeError` naming the key.
 */
export function fenceLogPaths(s: PgauditSettings, where = "pgAudit source"): void {
  const dir = compileGlob(s.path).dir;
  checkOutsideDataDir(dir, { key: "path", where });
  if (s.currentLogfiles === false) return;
  const key = s.currentLogfiles === undefined ? "path" : "current_logfiles";
  checkOutsideDataDir(s.currentLogfiles ?? defaultCurrentLogfiles(dir), { key, where });
}
