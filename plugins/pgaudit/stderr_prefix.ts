/**
 * Turns a server's `log_line_prefix` into a parser for the stderr log lines it prefixes.
 *
 * Each escape becomes a capture of what PostgreSQL 15 prints for it (`elog.c`,
 * `log_line_prefix()`): numbers as digits, times in their fixed shapes, free text (`%u %d %a %h
 * %r %i %b`) as the shortest run that lets the rest of the line match. `%q` ends the prefix of
 * processes without a session (the postmaster, the checkpointer), so what follows it is
 * optional. Padding (`%-10u`, `%8p`) adds spaces around a value, which are trimmed. The prefix
 * is followed by the severity and two spaces (`LOG:  `); with `log_error_verbosity = verbose`
 * by the SQLSTATE too (`ERROR:  22012: `).
 *
 * A user or application name that contains the literal text following its escape makes a line
 * ambiguous; the parser then takes the shortest reading, as any reader of the line would have to.
 */

import type { LogRecord } from "./record.ts";

/** Severities that start a log entry. */
export const MAIN_SEVERITIES: ReadonlySet<string> = new Set([
  "DEBUG",
  "LOG",
  "INFO",
  "NOTICE",
  "WARNING",
  "ERROR",
  "FATAL",
  "PANIC",
]);

/** Severities of the extra lines that belong to the entry before them. */
export const PART_SEVERITIES: ReadonlySet<string> = new Set([
  "DETAIL",
  "HINT",
  "QUERY",
  "CONTEXT",
  "LOCATION",
  "STATEMENT",
]);

/** One parsed first line: the escapes' values by escape letter, severity and message. */
export interface PrefixMatch {
  values: Record<string, string>;
  severity: string;
  /** The rest of the line after `SEVERITY:  ` (and after the SQLSTATE when verbose). */
  message: string;
  /** Where `message` starts in the line. */
  at: number;
  /** From the message under `verbose`. */
  sqlstate?: string;
}

/** A compiled `log_line_prefix`. */
export interface PrefixParser {
  readonly prefix: string;
  /** Parses one line; undefined when it does not start with the prefix and a severity. */
  match(line: string): PrefixMatch | undefined;
}

const DATE = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`;
const TEXT = "(.*?)";

/** What each escape prints, as a capture. */
const CAPTURES: Readonly<Record<string, string>> = {
  a: TEXT,
  u: TEXT,
  d: TEXT,
  r: TEXT,
  h: TEXT,
  b: TEXT,
  i: TEXT,
  p: String.raw`(\d+)`,
  P: String.raw`(\d*)`,
  t: `(${DATE} [^ ]+)`,
  m: String.raw`(${DATE}\.\d+ [^ ]+)`,
  n: String.raw`(\d+\.\d+)`,
  e: "([0-9A-Z]{5})",
  c: "([0-9a-f]+\\.[0-9a-f]+)",
  l: String.raw`(\d+)`,
  s: `(${DATE} [^ ]+)`,
  v: String.raw`(\d+/\d+|)`,
  x: String.raw`(\d+)`,
  Q: String.raw`(-?\d+)`,
};

const SEVERITY = `(${[...MAIN_SEVERITIES, ...PART_SEVERITIES].join("|")}):  `;
const VERBOSE_STATE = /^([0-9A-Z]{5}): /;

/**
 * Compiles `prefix`. Unknown escapes print nothing in PostgreSQL, and so match nothing here.
 *
 * @example
 * const p = compileLogLinePrefix("%m [%p] %q%u@%d ");
 * p.match("2024-05-01 10:00:00.123 UTC [42] ada@shop LOG:  AUDIT: …")?.values.u; // "ada"
 */
export function compileLogLinePrefix(
  prefix: string,
  opts: { verbose?: boolean } = {},
): PrefixParser {
  if (typeof prefix !== "string") throw new TypeError("log_line_prefix must be a string");
  const letters: string[] = [];
  const padded: boolean[] = [];
  let required = "";
  let optional: string | undefined;
  let out = "";
  for (let i = 0; i < prefix.length; i++) {
    const ch = prefix[i]!;
    if (ch !== "%") {
      out += escapeRegExp(ch);
      continue;
    }
    const pad = /^-?\d+/.exec(prefix.slice(i + 1));
    if (pad !== null) i += pad[0].length;
    const esc = prefix[++i];
    if (esc === undefined) break; // A lone % at the end prints nothing.
    if (esc === "%") out += "%";
    else if (esc === "q") {
      if (optional === undefined) {
        required = out;
        out = "";
        optional = "";
      }
    } else if (CAPTURES[esc] !== undefined) {
      letters.push(esc);
      padded.push(pad !== null);
      out += pad === null ? CAPTURES[esc] : ` *${CAPTURES[esc]} *`;
    }
  }
  const body = optional === undefined ? out : `${required}(?:${out})?`;
  const re = new RegExp(`^${body}${SEVERITY}`);
  const verbose = opts.verbose === true;
  return {
    prefix,
    match(line: string): PrefixMatch | undefined {
      const m = re.exec(line);
      if (m === null) return undefined;
      const values: Record<string, string> = {};
      for (let k = 0; k < letters.length; k++) {
        const v = padded[k] ? m[k + 1]?.trim() : m[k + 1];
        // The first of a repeated escape wins; an unmatched optional part leaves it unset.
        if (v !== undefined && values[letters[k]!] === undefined) values[letters[k]!] = v;
      }
      const severity = m[letters.length + 1]!;
      const at = m[0].length;
      const result: PrefixMatch = { values, severity, message: line.slice(at), at };
      if (verbose && MAIN_SEVERITIES.has(severity)) {
        const s = VERBOSE_STATE.exec(result.message);
        if (s !== null) {
          result.sqlstate = s[1]!;
          result.at = at + s[0].length;
          result.message = line.slice(result.at);
        }
      }
      return result;
    },
  };
}

/** What PostgreSQL prints for an empty user, database or application name. */
const UNKNOWN = "[unknown]";

/** Sets the fields of `r` that the prefix of its first line gave, and its severity. */
export function prefixFields(r: LogRecord, m: PrefixMatch): void {
  const v = m.values;
  const time = v.m ?? v.t ?? v.n;
  if (time) r.time = time;
  if (v.u && v.u !== UNKNOWN) r.user = v.u;
  if (v.d && v.d !== UNKNOWN) r.db = v.d;
  if (v.a && v.a !== UNKNOWN) r.applicationName = v.a;
  if (v.p) r.pid = Number(v.p);
  if (v.h) r.host = v.h;
  else if (v.r) {
    // %r is host(port), or [local].
    const hp = /^(.*)\((\d+)\)$/.exec(v.r);
    r.host = hp === null ? v.r : hp[1]!;
    if (hp !== null) r.port = Number(hp[2]);
  }
  if (v.c) r.sessionId = v.c;
  if (v.l) r.lineNum = Number(v.l);
  if (v.i) r.commandTag = v.i;
  if (v.s) r.sessionStart = v.s;
  if (v.v) r.vxid = v.v;
  if (v.x) r.xid = Number(v.x);
  if (v.b) r.backendType = v.b;
  if (v.Q) r.queryId = v.Q;
  const state = m.sqlstate ?? v.e;
  if (state) r.sqlstate = state;
  r.severity = m.severity;
}

function escapeRegExp(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}
