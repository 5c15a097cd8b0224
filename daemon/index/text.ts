/**
 * Text search semantics shared by the SQLite index and the in-memory matcher: the index's trigrams
 * nominate every event the matcher would select for a `text` filter, and the matcher decides.
 *
 * An event's searchable text is its `statement`, `error`, the values of its `params` and of its
 * row images (`old_row`, `new_row`: each column's text, not the column names), `raw` when the
 * event could not be parsed (it then has nothing else to search), and the name of the API
 * `token` that posted it, each distinct value once, joined by newlines. A query is split on white
 * space into tokens; an event matches when every token is a substring of its searchable text
 * after both are folded by {@link foldText}. Case folding happens here, in JavaScript, on both
 * sides: the index stores trigrams of folded text and SQLite compares bytes, so no SQLite
 * collation or tokenizer folding (ASCII-only `lower()`, Unicode-version-dependent FTS5 folding)
 * can make the two disagree.
 */

import type { AuditEvent, JsonObject } from "../event/model.ts";

/**
 * Folds text for case-insensitive comparison: lone UTF-16 surrogates become U+FFFD (what SQLite
 * stores for them anyway, since it holds UTF-8) and the result is lower-cased, locale-free.
 */
export function foldText(s: string): string {
  return (s.isWellFormed() ? s : s.toWellFormed()).toLowerCase();
}

/**
 * The folded searchable text of an event, or undefined when it has none. The newline separator
 * is white space, so no query token (which never contains white space) can span two fields.
 */
export function searchableText(ev: AuditEvent): string | undefined {
  const parts = textParts(ev);
  // A value said twice (a row's unchanged columns in its old and new image) is stored once: no
  // token spans two values, so the second copy can match nothing the first does not.
  return parts === undefined ? undefined : foldText([...new Set(parts)].join("\n"));
}

/**
 * The values that make up an event's searchable text, unfolded, in order, each as often as the
 * event says it; undefined when it has none.
 */
export function textParts(ev: AuditEvent): string[] | undefined {
  const parts: string[] = [];
  if (ev.statement !== undefined) parts.push(ev.statement);
  if (ev.error !== undefined) parts.push(ev.error);
  if (ev.params !== undefined) { for (const p of ev.params) if (p !== null) parts.push(p); }
  rowValues(ev.old_row, parts);
  rowValues(ev.new_row, parts);
  if (ev.raw !== undefined && ev.parse_error !== undefined) parts.push(ev.raw);
  if (ev.token !== undefined) parts.push(ev.token);
  return parts.length === 0 ? undefined : parts;
}

/** The values of a row image as text: PostgreSQL's own text output per column. */
function rowValues(row: JsonObject | undefined, out: string[]): void {
  if (row === undefined) return;
  for (const v of Object.values(row)) {
    if (v === null) continue;
    out.push(typeof v === "string" ? v : JSON.stringify(v));
  }
}

/** The folded, de-duplicated white-space-separated tokens of a query text; [] for blank text. */
export function textTokens(text: string): string[] {
  const out = new Set<string>();
  for (const raw of text.split(/\s+/)) if (raw !== "") out.add(foldText(raw));
  return [...out];
}

/** Most trigrams looked up per token: enough to be selective, bounded for hostile input. */
const MAX_TRIGRAMS = 12;

/**
 * The distinct trigrams (three code points) of a token that the index can look up, at most
 * {@link MAX_TRIGRAMS} spread over its length. Tokens shorter than three code points have none,
 * and trigrams holding a NUL are left out because SQLite ends an FTS5 query string there. Any
 * subset works: the index only narrows the candidates, the event read from the log decides.
 */
export function tokenTrigrams(tok: string): string[] {
  const cps = Array.from(tok);
  const seen = new Set<string>();
  for (let i = 0; i + 3 <= cps.length; i++) {
    const tri = cps[i]! + cps[i + 1]! + cps[i + 2]!;
    if (!tri.includes("\0")) seen.add(tri);
  }
  const all = [...seen];
  if (all.length <= MAX_TRIGRAMS) return all;
  const step = (all.length - 1) / (MAX_TRIGRAMS - 1);
  return Array.from({ length: MAX_TRIGRAMS }, (_, i) => all[Math.round(i * step)]!);
}

/**
 * An FTS5 query that ANDs every lookup trigram of every token, each as a quoted string. Inside
 * an FTS5 string only `"` is special (written `""`), so operators, `NEAR(`, `*`, `-`, `^` or
 * column filters in the user's text are searched for literally and can neither fail to parse
 * nor change the query. Single trigrams rather than phrases, because the index is built with
 * `detail=none`, which has no positions. Returns undefined when no token has a trigram.
 */
export function ftsQuery(tokens: readonly string[]): string | undefined {
  const terms = new Set<string>();
  for (const tok of tokens) {
    for (const tri of tokenTrigrams(tok)) terms.add('"' + tri.replaceAll('"', '""') + '"');
  }
  return terms.size === 0 ? undefined : [...terms].join(" AND ");
}

/** Whether every token occurs in the folded searchable text. */
export function textMatches(folded: string | undefined, tokens: readonly string[]): boolean {
  if (tokens.length === 0) return true;
  if (folded === undefined) return false;
  for (const t of tokens) if (!folded.includes(t)) return false;
  return true;
}
