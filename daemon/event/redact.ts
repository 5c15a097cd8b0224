/**
 * Removes secrets from events before they are stored, for every source in one place: the
 * pipeline (`daemon/pipeline.ts`) runs it on every batch a source emits (the WAL's DDL text,
 * the pgAudit log), and `validateEvent` on every event that comes in through the API,
 * `vigil ingest` or the web UI. Once in the append-only log, a password cannot be taken out
 * again without breaking the chain. pgAudit itself hides the password of `CREATE/ALTER ROLE …
 * PASSWORD` in its AUDIT line, but not in the statement of an ERROR, a parameter, a connection
 * string, a user mapping, a line that could not be parsed — nor does the WAL's DDL trigger.
 *
 * Default rules (each replaces the secret by `<REDACTED>`):
 * - `PASSWORD <literal>`, with `ENCRYPTED`, any case, comments between, and any SQL string
 *   literal (`'…'`, `E'…'` with backslash escapes, `U&'…'`, `$$…$$`, `$tag$…$tag$`): role
 *   passwords (also `SCRAM-SHA-256$…` and `md5…` hashes, as psql's `\password` sends) and
 *   `OPTIONS (password '…')` of `CREATE USER MAPPING` / `ALTER SERVER`;
 * - `password=value` in connection strings (dblink, postgres_fdw, `PGPASSWORD=`), quoted or not,
 *   also inside a SQL literal where its quotes are doubled;
 * - the password of a `postgres://user:password@host` URI.
 *
 * They scan, not backtrack: every default rule is linear in the text, whatever an attacker
 * writes. A literal that never closes is redacted to the end of the text. Extra rules are
 * regular expressions from a source's configuration (`redact`, flags `gi`, valid on every
 * `[[sources]]` table): the named group `secret` is replaced when there is one, else the whole
 * match. Redaction is idempotent: text already redacted comes out the same.
 */

import { Buffer } from "node:buffer";
import type { NewEvent } from "./model.ts";
import { type ConfigField, ConfigKeyError } from "../config/fields.ts";

/** What replaces a secret. */
export const REDACTED = "<REDACTED>";

/** A text rewriter: returns the text with its secrets replaced (the same string when none). */
export type RedactRule = (text: string) => string;

/** The configured rules. */
export interface RedactOptions {
  /** Apply the default rules (default true). */
  defaults?: boolean;
  /** Extra regular expressions. */
  patterns?: readonly string[];
}

/** The default rules, in the order they run. */
export const DEFAULT_RULES: readonly RedactRule[] = [sqlPasswords, connInfoPasswords, uriPasswords];

/** Compiles the rules; throws `TypeError` naming the bad `redact` entry. */
export function compileRedaction(opts: RedactOptions = {}): RedactRule[] {
  const rules = opts.defaults === false ? [] : [...DEFAULT_RULES];
  (opts.patterns ?? []).forEach((source, i) => rules.push(patternRule(source, i)));
  return rules;
}

/** The keys of a `[[sources]]` table that configure its redaction, whatever its type. */
export const REDACT_KEYS: readonly string[] = Object.freeze(["redact", "redact_defaults"]);

/** The same keys as schema fields, for every source plugin's field list. */
export const REDACT_FIELDS: readonly ConfigField[] = Object.freeze(
  [
    {
      key: "redact",
      kind: "strings",
      doc: "extra redaction rules: regular expressions (flags gi; a group `secret` is what goes)",
    },
    {
      key: "redact_defaults",
      kind: "boolean",
      doc: "apply the built-in rules (passwords, connection strings); default true",
    },
  ] as const,
);

/**
 * The redaction a `[[sources]]` table asks for, with one meaning for every source type:
 * `redact` (extra regular expressions) and `redact_defaults` (false turns the built-in rules
 * off). Throws `TypeError` naming the key, for `vigil validate` to point at its line.
 *
 * @example
 * redactionFromTable({ redact: ["token=(?<secret>\\S+)"] }, 'WAL source "billing"');
 * // { defaults: true, patterns: ["token=(?<secret>\\S+)"] }
 */
export function redactionFromTable(
  table: Readonly<Record<string, unknown>>,
  where = "source",
): Required<RedactOptions> {
  const patterns: unknown = table.redact ?? [];
  if (!Array.isArray(patterns) || !patterns.every((p) => typeof p === "string")) {
    throw new ConfigKeyError(
      "redact",
      `Bad "redact" in ${where}: expected an array of regular expressions (strings)`,
    );
  }
  const defaults: unknown = table.redact_defaults ?? true;
  if (typeof defaults !== "boolean") {
    throw new ConfigKeyError(
      "redact_defaults",
      `Bad "redact_defaults" in ${where}: expected true or false`,
    );
  }
  try {
    compileRedaction({ defaults, patterns });
  } catch (e) {
    throw new ConfigKeyError("redact", `Bad "redact" in ${where}: ${(e as Error).message}`);
  }
  return { defaults, patterns: [...patterns] };
}

/** Applies `rules` to `text`. */
export function redactText(text: string, rules: readonly RedactRule[]): string {
  let out = text;
  for (const rule of rules) out = rule(out);
  return out;
}

/**
 * Redacts an event's statement, error, parameters and raw text in place; sets `redacted` when
 * anything changed. Returns whether it did.
 */
export function redactEvent(ev: NewEvent, rules: readonly RedactRule[]): boolean {
  if (rules.length === 0) return false;
  let changed = false;
  const apply = (v: string): string => {
    const r = redactText(v, rules);
    if (r !== v) changed = true;
    return r;
  };
  if (ev.statement !== undefined) ev.statement = apply(ev.statement);
  if (ev.error !== undefined) ev.error = apply(ev.error);
  if (ev.params !== undefined) ev.params = ev.params.map((p) => p === null ? p : apply(p));
  if (ev.raw !== undefined) {
    ev.raw = ev.raw.startsWith("\\x") && /^\\x(?:[0-9a-f]{2})*$/.test(ev.raw)
      ? redactHex(ev.raw, apply)
      : apply(ev.raw);
  }
  if (changed) ev.redacted = true;
  return changed;
}

/** Bytes kept as bytea hex (invalid UTF-8): redacted byte for byte, through latin1. */
function redactHex(raw: string, apply: (v: string) => string): string {
  const text = Buffer.from(raw.slice(2), "hex").toString("latin1");
  const out = apply(text);
  return out === text ? raw : "\\x" + Buffer.from(out, "latin1").toString("hex");
}

function patternRule(source: string, index: number): RedactRule {
  let re: RegExp;
  try {
    re = new RegExp(source, "gid");
  } catch (e) {
    throw new TypeError(
      `redact[${index}] is not a valid regular expression: ${(e as Error).message}`,
    );
  }
  if (new RegExp(source, "i").test("")) {
    throw new TypeError(`redact[${index}] ${JSON.stringify(source)} matches the empty string`);
  }
  return (text) => {
    let out = "";
    let at = 0;
    for (const m of text.matchAll(re)) {
      const span = m.indices?.groups?.secret ?? m.indices?.[0];
      if (span === undefined || span[1] <= span[0]) continue;
      out += text.slice(at, span[0]) + REDACTED;
      at = span[1];
    }
    return at === 0 ? text : out + text.slice(at);
  };
}

const PASSWORD_RE = /password/gi;
const IDENT = /[\p{L}\p{N}_$]/u;

/** `PASSWORD <SQL literal>`: the literal goes. */
function sqlPasswords(text: string): string {
  return replaceAfter(text, PASSWORD_RE, (end) => {
    const before = text[end - 9];
    if (before !== undefined && IDENT.test(before)) return undefined;
    const after = text[end];
    if (after !== undefined && IDENT.test(after) && after !== "$") return undefined;
    const from = skipBlanks(text, end);
    // Not a literal: go on after the blanks and comments, so none is scanned twice.
    const to = literalEnd(text, from);
    return to === undefined ? from : [from, to];
  });
}

/** `password=value` of a connection string. */
function connInfoPasswords(text: string): string {
  return replaceAfter(text, PASSWORD_RE, (end) => {
    let i = end;
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text[i] !== "=") return undefined;
    i++;
    while (i < text.length && /\s/.test(text[i]!)) i++;
    return [i, connValueEnd(text, i)];
  });
}

const URI_RE = /postgres(?:ql)?:\/\/[^\s:@/'"]*:/gi;

/** `postgres://user:secret@host`: the secret goes. */
function uriPasswords(text: string): string {
  return replaceAfter(text, URI_RE, (end) => {
    let i = end;
    while (i < text.length && !/[\s@'"/]/.test(text[i]!)) i++;
    return text[i] === "@" && i > end ? [end, i] : i;
  });
}

/**
 * For each match of `re`, `span(matchEnd)` says which characters after it to replace, or where
 * to search on from when there is nothing to replace; the search always goes on past what the
 * callback read, so no text is scanned twice whatever it holds.
 */
function replaceAfter(
  text: string,
  re: RegExp,
  span: (matchEnd: number) => [number, number] | number | undefined,
): string {
  let out = "";
  let at = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const end = m.index + m[0].length;
    const s = span(end);
    if (typeof s === "number") {
      re.lastIndex = Math.max(re.lastIndex, s);
      continue;
    }
    if (s === undefined || s[1] <= s[0] || s[0] < at) continue;
    out += text.slice(at, s[0]) + REDACTED;
    at = s[1];
    re.lastIndex = Math.max(re.lastIndex, s[1]);
  }
  return at === 0 && out === "" ? text : out + text.slice(at);
}

/** Past white space and SQL comments (`--` to the line end, `/* … *\/`, nested). */
function skipBlanks(text: string, i: number): number {
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text.startsWith("--", i)) {
      const nl = text.indexOf("\n", i);
      i = nl === -1 ? text.length : nl + 1;
    } else if (text.startsWith("/*", i)) {
      let depth = 0;
      while (i < text.length) {
        if (text.startsWith("/*", i)) (depth++, i += 2);
        else if (text.startsWith("*/", i)) {
          i += 2;
          if (--depth === 0) break;
        } else i++;
      }
    } else return i;
  }
}

/** End of the SQL string literal at `i` (the end of the text when it never closes). */
function literalEnd(text: string, i: number): number | undefined {
  const c = text[i];
  if (c === "'") return quotedEnd(text, i + 1, false);
  if ((c === "E" || c === "e") && text[i + 1] === "'") return quotedEnd(text, i + 2, true);
  if ((c === "U" || c === "u") && text[i + 1] === "&" && text[i + 2] === "'") {
    return quotedEnd(text, i + 3, false);
  }
  if (c === "$") {
    const tag = /^\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.exec(text.slice(i, i + 64));
    if (tag === null) return undefined;
    const close = text.indexOf(tag[0], i + tag[0].length);
    return close === -1 ? text.length : close + tag[0].length;
  }
  return undefined;
}

/** Past the closing quote of a `'…'` body starting at `i`; `''` is a quote, `\` escapes in E''. */
function quotedEnd(text: string, i: number, backslash: boolean): number {
  while (i < text.length) {
    const c = text[i]!;
    if (backslash && c === "\\") i += 2;
    else if (c === "'") {
      if (text[i + 1] === "'") i += 2;
      else return i + 1;
    } else i++;
  }
  return text.length;
}

/** End of a connection-string value at `i`: quoted (also with SQL-doubled quotes) or bare. */
function connValueEnd(text: string, i: number): number {
  const doubled = text.startsWith("''", i);
  if (doubled || text[i] === "'") {
    const q = doubled ? "''" : "'";
    let j = i + q.length;
    while (j < text.length) {
      if (text[j] === "\\") j += 2;
      else if (text.startsWith(q, j)) return j + q.length;
      else j++;
    }
    return text.length;
  }
  let j = i;
  while (j < text.length && !/[\s'"&]/.test(text[j]!)) j++;
  return j;
}
