/**
 * Turns one PostgreSQL log record (from any of the three formats) into the audit event it
 * stands for, or into nothing when the record is not about auditing (checkpoints, startup).
 *
 * - pgAudit lines become `session` or `object` events with every pgAudit field.
 * - `connection authorized` / `disconnection` become `auth` events (CONNECT, DISCONNECT), and so
 *   do failed logins (`FATAL 28P01 password authentication failed …`, other 28xxx), for which
 *   pgAudit writes nothing.
 * - ERROR, FATAL and PANIC become events with `sqlstate`, `error` and the failed statement:
 *   a statement that fails at plan time has no pgAudit line at all.
 * - A change of a setting that decides what is audited (`pgaudit.*`, connection logging, …),
 *   asked for by a statement or applied by a reload, becomes a `system` event whose `context`
 *   says which setting, its value and whether it lessens auditing (`audit_reduced`).
 * - A record that cannot be understood becomes a `system` event with `raw` and `parse_error`:
 *   never dropped. Bytes that were not UTF-8 keep their event but add `parse_error` and the exact
 *   bytes as bytea hex in `raw`.
 */

import { Buffer } from "node:buffer";
import type { JsonObject, NewEvent } from "../../daemon/event/model.ts";
import { type AuditEntry, isAuditMessage, parseAuditMessage, schemaOf } from "./audit.ts";
import { checkTimezone, parseLogTime } from "./log_time.ts";
import { type LogRecord, place } from "./record.ts";
import { type SettingChange, settingFromMessage, settingFromStatement } from "./settings.ts";

/** Options of `logEvent`. */
export interface EventOptions {
  /** The source's configured name. */
  source: string;
  /** The server's `log_timezone` (IANA), for zone names such as CET; default `"UTC"`. */
  timezone?: string;
  /** The file the record came from, for messages; default `"(stream)"`. */
  file?: string;
  /** µs since the epoch: the time of a record whose own time cannot be read. */
  clock?: () => number;
}

/** An event and what the log said about it that has no field in the event. */
export interface LogEvent {
  event: NewEvent;
  /** The session's log line number; the source may use it in `source_pos`. */
  lineNum?: number;
  clientPort?: number;
  /** Virtual transaction id (`3/14`). */
  vxid?: string;
}

const IDLE_TAGS: ReadonlySet<string> = new Set([
  "idle",
  "idle in transaction",
  "idle in transaction (aborted)",
  "authentication",
  "startup",
]);

/** Failed-login messages and their SQLSTATE, for the stderr format without `%e`. */
const AUTH_FAILURES: [RegExp, string][] = [
  [/^password authentication failed for user "/, "28P01"],
  [/^\S+ authentication failed for user "/, "28000"],
  [/^no pg_hba\.conf entry for /, "28000"],
  [/^pg_hba\.conf rejects /, "28000"],
  [/^role ".*" (does not exist|is not permitted to log in)$/s, "28000"],
];

const LEADING_TIME_RE = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [^\s,"]+)/;
const JSON_TIME_RE = /^\{"timestamp":"([^"]+)"/;

/** Checks the options once; throws `TypeError` naming a bad one. */
export function checkEventOptions(opts: EventOptions): void {
  if (typeof opts.source !== "string" || opts.source === "") {
    throw new TypeError("Cannot map pgAudit log records: option source must be a non-empty string");
  }
  if (opts.timezone !== undefined) checkTimezone(opts.timezone);
}

/**
 * The event of a log record, or undefined when the record is not one to keep.
 *
 * @example
 * for await (const rec of bytes.pipeThrough(new CsvLogStream())) {
 *   const e = logEvent(csvLogRecord(rec), { source: "billing-log" });
 *   if (e !== undefined) batch.push(e.event);
 * }
 */
export function logEvent(rec: LogRecord, opts: EventOptions): LogEvent | undefined {
  if (rec.problem !== undefined) return unreadable(rec, rec.problem, opts);
  let ts: number;
  try {
    ts = rec.time === undefined ? now(opts) : parseLogTime(rec.time, opts.timezone);
  } catch (e) {
    if (!(e instanceof SyntaxError || e instanceof RangeError)) throw e;
    return unreadable(
      rec,
      `Cannot read the time of the log record ${at(rec, opts)}: ${e.message}`,
      opts,
    );
  }
  const message = rec.message ?? "";
  let event: NewEvent | undefined;
  if (isAuditMessage(message)) {
    let entry: AuditEntry;
    try {
      entry = parseAuditMessage(message);
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      return unreadable(rec, `Cannot read the pgAudit record ${at(rec, opts)}: ${e.message}`, opts);
    }
    event = auditEvent(rec, ts, entry, opts);
  } else if (rec.severity === "LOG") {
    event = serverEvent(rec, ts, message, opts);
  } else if (rec.severity === "ERROR" || rec.severity === "FATAL" || rec.severity === "PANIC") {
    event = errorEvent(rec, ts, message, opts);
  }
  if (event === undefined) return undefined;
  if (rec.invalidBytes !== undefined) {
    event.parse_error = `the log record ${at(rec, opts)} is not valid UTF-8: U+FFFD stands ` +
      "for the bad bytes in its fields; raw holds all its bytes as hex";
    event.raw = byteaHex(rec.invalidBytes);
  }
  return withSide(rec, event);
}

function auditEvent(rec: LogRecord, ts: number, a: AuditEntry, opts: EventOptions): NewEvent {
  const change = a.statement === undefined ? undefined : settingFromStatement(a.statement);
  const kind = change !== undefined ? "system" : a.auditType === "OBJECT" ? "object" : "session";
  const ev = base(rec, ts, kind, opts);
  ev.audit_type = a.auditType;
  ev.statement_id = a.statementId;
  ev.substatement_id = a.substatementId;
  ev.class = a.class;
  ev.command = a.command;
  if (a.objectType !== undefined) ev.object_type = a.objectType;
  if (a.object !== undefined) {
    ev.object = a.object;
    const schema = schemaOf(a.object);
    if (schema !== undefined) ev.schema = schema;
  }
  if (a.statement !== undefined) ev.statement = a.statement;
  if (a.params !== undefined) ev.params = a.params;
  if (a.rows !== undefined) ev.rows = a.rows;
  if (change !== undefined) ev.context = settingContext(change);
  return ev;
}

/** LOG lines: connections, disconnections and settings applied; nothing for the rest. */
function serverEvent(
  rec: LogRecord,
  ts: number,
  message: string,
  opts: EventOptions,
): NewEvent | undefined {
  if (message.startsWith("connection authorized: ")) {
    return authEvent(rec, ts, "CONNECT", message, opts);
  }
  if (message.startsWith("replication connection authorized: ")) {
    return authEvent(rec, ts, "REPLICATION CONNECT", message, opts);
  }
  if (message.startsWith("disconnection: ")) {
    return authEvent(rec, ts, "DISCONNECT", message, opts);
  }
  const change = settingFromMessage(message);
  if (change === undefined) return undefined;
  const ev = base(rec, ts, "system", opts);
  ev.command = "RELOAD";
  ev.object = change.setting;
  ev.object_type = "SETTING";
  ev.context = settingContext(change);
  return ev;
}

function authEvent(
  rec: LogRecord,
  ts: number,
  command: string,
  message: string,
  opts: EventOptions,
): NewEvent {
  const ev = base(rec, ts, "auth", opts);
  ev.command = command;
  // A stderr prefix may lack %u, %d or %h; the message itself names them.
  const said = (key: string): string | undefined =>
    new RegExp(`\\b${key}=(\\S+)`).exec(message)?.[1];
  fallback(ev, "role", said("user"));
  fallback(ev, "db", said("database"));
  fallback(ev, "client_addr", said("host"));
  return ev;
}

function errorEvent(rec: LogRecord, ts: number, message: string, opts: EventOptions): NewEvent {
  let sqlstate = rec.sqlstate;
  if (sqlstate === undefined && rec.severity === "FATAL") {
    sqlstate = AUTH_FAILURES.find(([re]) => re.test(message))?.[1];
  }
  const auth = rec.severity === "FATAL" && sqlstate?.startsWith("28") === true;
  const kind = auth
    ? "auth"
    : rec.user !== undefined || rec.db !== undefined
    ? "session"
    : "system";
  const ev = base(rec, ts, kind, opts);
  if (auth) {
    ev.command = "CONNECT";
    fallback(ev, "role", /(?:for user|role) "(.*?)"/s.exec(message)?.[1]);
  } else if (rec.commandTag !== undefined && !IDLE_TAGS.has(rec.commandTag)) {
    ev.command = rec.commandTag;
  }
  if (sqlstate !== undefined) ev.sqlstate = sqlstate;
  ev.error = rec.detail === undefined ? message : `${message}\nDETAIL:  ${rec.detail}`;
  if (rec.statement !== undefined) ev.statement = rec.statement;
  return ev;
}

/** Sets a field the record did not give from what its message says. */
function fallback(
  ev: NewEvent,
  key: "role" | "db" | "client_addr",
  value: string | undefined,
): void {
  if (ev[key] === undefined && value !== undefined) ev[key] = value;
}

function settingContext(change: SettingChange): JsonObject {
  const c: JsonObject = { setting: change.setting };
  if (change.value !== undefined) c.value = change.value;
  c.audit_reduced = change.reduced;
  return c;
}

/** The fields every event of a record shares. */
function base(rec: LogRecord, ts: number, kind: NewEvent["kind"], opts: EventOptions): NewEvent {
  const ev: NewEvent = { ts, source: opts.source, kind };
  if (rec.db !== undefined) ev.db = rec.db;
  if (rec.user !== undefined) ev.role = rec.user;
  if (rec.host !== undefined) ev.client_addr = rec.host;
  if (rec.applicationName !== undefined) ev.application_name = rec.applicationName;
  if (rec.sessionId !== undefined) ev.session_id = rec.sessionId;
  if (rec.pid !== undefined) ev.pid = rec.pid;
  // 0 is "no transaction id assigned", not a transaction.
  if (rec.xid !== undefined && rec.xid !== 0) ev.xid = rec.xid;
  return ev;
}

function withSide(rec: LogRecord, event: NewEvent): LogEvent {
  const out: LogEvent = { event };
  if (rec.lineNum !== undefined) out.lineNum = rec.lineNum;
  if (rec.port !== undefined) out.clientPort = rec.port;
  if (rec.vxid !== undefined) out.vxid = rec.vxid;
  return out;
}

/** The stand-in for a record that could not be understood: its text (or bytes) and why. */
function unreadable(rec: LogRecord, why: string, opts: EventOptions): LogEvent {
  let ts: number;
  try {
    // Most damage leaves the record's log time intact; else the time it was read.
    const time = LEADING_TIME_RE.exec(rec.text)?.[1] ?? JSON_TIME_RE.exec(rec.text)?.[1];
    ts = parseLogTime(time ?? "", opts.timezone);
  } catch {
    ts = now(opts);
  }
  const ev = base(rec, ts, "system", opts);
  ev.raw = rec.invalidBytes === undefined ? rec.text : byteaHex(rec.invalidBytes);
  ev.parse_error = why;
  return withSide(rec, ev);
}

function now(opts: EventOptions): number {
  return opts.clock?.() ?? Date.now() * 1000;
}

function at(rec: LogRecord, opts: EventOptions): string {
  return place(opts.file ?? "(stream)", rec.start, rec.line);
}

/** Bytes as PostgreSQL's bytea hex text, as the WAL source keeps unreadable input. */
function byteaHex(bytes: Uint8Array): string {
  return "\\x" + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}
