/**
 * Recognises changes to the settings that decide what reaches the audit log: `pgaudit.*`, the
 * connection logging, the log destination and format, `shared_preload_libraries`, and dropping
 * the pgaudit extension. Turning one of them down is how audit evidence disappears without a
 * gap in the file, so such a change becomes a flagged `system` event ("gaps are alarms").
 *
 * Two places say so: the server's own line when a reload applies a setting
 * (`parameter "pgaudit.log" changed to "none"`), and the audited statement that asks for it
 * (`ALTER SYSTEM SET …`, `SET …`, `ALTER ROLE … SET …`, `set_config('pgaudit.…', …)`). The
 * statement is read with regular expressions, not a SQL parser: it only has to find the setting
 * and its value, and errs toward flagging.
 */

/** One setting change. */
export interface SettingChange {
  /** Setting name (lower case), or `extension pgaudit`, or `all` for `ALTER SYSTEM RESET ALL`. */
  setting: string;
  /** The new value; absent for a reset to default. */
  value?: string;
  /** The change can only lessen what is audited or logged. */
  reduced: boolean;
}

const WATCHED: ReadonlySet<string> = new Set([
  "log_connections",
  "log_disconnections",
  "logging_collector",
  "log_destination",
  "log_line_prefix",
  "log_directory",
  "log_filename",
  "log_min_messages",
  "log_min_error_statement",
  "shared_preload_libraries",
  // `replica` skips every trigger not ENABLE ALWAYS: a way around trigger-based auditing.
  "session_replication_role",
]);

/**
 * pgAudit options that change the shape of what is logged, never which statements: recorded
 * as any other change, never "auditing reduced" (guides recommend log_catalog = off and
 * log_statement_once = on, and flagging them was a false alarm).
 */
const SHAPE_ONLY: ReadonlySet<string> = new Set([
  "pgaudit.log_catalog",
  "pgaudit.log_statement_once",
  "pgaudit.log_parameter",
  "pgaudit.log_parameter_max_size",
  "pgaudit.log_relation",
  "pgaudit.log_rows",
  "pgaudit.log_level",
  "pgaudit.log_client",
]);

/** True for a setting whose change can alter what Vigil collects. */
export function isWatchedSetting(setting: string): boolean {
  const s = setting.toLowerCase();
  return s.startsWith("pgaudit.") || WATCHED.has(s);
}

const FALSE_RE = /^(off?|f(a(l(se?)?)?)?|no?|0)$/i;

/** Whether setting `setting` to `value` (undefined: its default) lessens what is logged. */
export function reducesLogging(setting: string, value: string | undefined): boolean {
  const s = setting.toLowerCase();
  if (SHAPE_ONLY.has(s)) return false;
  // The default of session_replication_role is origin, where every trigger fires.
  if (value === undefined) {
    return s !== "session_replication_role" && isWatchedSetting(s) || s === "all";
  }
  const v = value.trim().toLowerCase();
  switch (s) {
    case "session_replication_role":
      return v === "replica" || v === "'replica'";
    case "pgaudit.log": {
      const items = v.split(",").map((x) => x.trim()).filter((x) => x !== "");
      return items.length === 0 || items.includes("none") || items.some((x) => x.startsWith("-"));
    }
    case "pgaudit.role":
      return v === "";
    case "shared_preload_libraries":
      return !/\bpgaudit\b/.test(v);
    case "log_destination":
      return !/\b(stderr|csvlog|jsonlog)\b/.test(v);
    case "log_min_messages":
    case "log_min_error_statement":
      // LOG ranks above ERROR in the server log: only these two hide LOG lines (and pgAudit's).
      return v === "fatal" || v === "panic";
    case "log_line_prefix":
    case "log_directory":
    case "log_filename":
      return false;
    default:
      return s.startsWith("pgaudit.") || WATCHED.has(s) ? FALSE_RE.test(v) : false;
  }
}

const CHANGED_RE = /^parameter "([^"]+)" changed to "(.*)"$/s;
const REMOVED_RE = /^parameter "([^"]+)" removed from configuration file, reset to default$/;

/** The change a server message reports, for any setting; undefined for other messages. */
export function settingFromMessage(message: string): SettingChange | undefined {
  const changed = CHANGED_RE.exec(message);
  if (changed !== null) {
    const [, setting, value] = changed;
    return { setting: setting!, value: value!, reduced: reducesLogging(setting!, value) };
  }
  const removed = REMOVED_RE.exec(message);
  if (removed !== null) {
    return { setting: removed[1]!, reduced: reducesLogging(removed[1]!, undefined) };
  }
  return undefined;
}

/** A word every change below has in it. */
const MENTIONS_RE = /pgaudit|log_|logging_collector|shared_preload|replication_role|reset\s+all/i;
const LEADING_RE = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/;
const QUOTED = String.raw`'(?:[^']|'')*'`;
const SET_RE = new RegExp(
  String.raw`\b(set|reset)\s+(?:session\s+|local\s+)?("[^"]+"|[a-z_][\w.]*)` +
    String.raw`(?:\s*(?:=|\bto\b)\s*(${QUOTED}(?:\s*,\s*${QUOTED})*|[^\s;,]+))?`,
  "gi",
);
const SET_CONFIG_RE = new RegExp(
  String.raw`set_config\s*\(\s*'([^']+)'\s*,\s*(${QUOTED})`,
  "gi",
);
const CONFIG_STATEMENT_RE = /^(set|reset|alter\s+(system|role|user|database))\b/i;
const DROP_PGAUDIT_RE = /^drop\s+extension\s+(if\s+exists\s+)?[^;]*\bpgaudit\b/i;
const RESET_ALL_RE = /^alter\s+system\s+reset\s+all\b/i;

/**
 * The first watched setting a statement changes: by `SET`/`RESET`, `ALTER SYSTEM`, `ALTER
 * ROLE|USER|DATABASE … SET`, a `set_config()` call anywhere, `ALTER SYSTEM RESET ALL`, or
 * `DROP EXTENSION pgaudit`. Undefined when it changes none.
 *
 * @example
 * settingFromStatement("ALTER SYSTEM SET pgaudit.log = 'none'");
 * // { setting: "pgaudit.log", value: "none", reduced: true }
 */
export function settingFromStatement(statement: string): SettingChange | undefined {
  // Every statement of the log passes here; nearly all name none of these words.
  if (!MENTIONS_RE.test(statement)) return undefined;
  const body = statement.replace(LEADING_RE, "");
  if (DROP_PGAUDIT_RE.test(body)) return { setting: "extension pgaudit", reduced: true };
  if (RESET_ALL_RE.test(body)) return { setting: "all", reduced: true };
  const candidates: [string, string | undefined][] = [];
  if (CONFIG_STATEMENT_RE.test(body)) {
    for (const m of body.matchAll(SET_RE)) {
      const value = m[1]!.toLowerCase() === "reset" ? undefined : m[3];
      candidates.push([m[2]!, value]);
    }
  }
  for (const m of statement.matchAll(SET_CONFIG_RE)) candidates.push([m[1]!, m[2]!]);
  for (const [name, raw] of candidates) {
    const setting = name.startsWith('"') ? name.slice(1, -1) : name.toLowerCase();
    if (!isWatchedSetting(setting)) continue;
    const value = raw === undefined || /^default$/i.test(raw) ? undefined : unquote(raw);
    const change: SettingChange = { setting, reduced: reducesLogging(setting, value) };
    if (value !== undefined) change.value = value;
    return change;
  }
  return undefined;
}

/** `'a', 'b'` → `a, b`; a bare word stays. */
function unquote(raw: string): string {
  if (!raw.startsWith("'")) return raw;
  return [...raw.matchAll(new RegExp(QUOTED, "g"))]
    .map((m) => m[0].slice(1, -1).replaceAll("''", "'"))
    .join(", ");
}
