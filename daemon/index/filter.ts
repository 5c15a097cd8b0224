/**
 * The event filter of `vigil query`, the web UI and the index, and its in-memory evaluation.
 *
 * The SQLite index (see `filter_sql.ts`) and {@link compileFilter} give the same answer for every
 * event and filter: the CLI answers from the index and then scans log records newer than the
 * index with the in-memory matcher, so any disagreement would show as results that change with
 * how far the index has caught up. `tests/daemon/index/agreement_test.ts` checks this on random
 * events and filters.
 *
 * Semantics:
 * - `source`, `kind`, `role`, `db`, `object`: exact, case-sensitive equality; an event without
 *   the field never matches a filter that names it.
 * - `command`: equality after {@link foldText} on both sides, so `select` finds pgAudit's
 *   `SELECT`.
 * - `app_user`, `client_addr`, `application_name`, `session_id`, `xid`, `sqlstate`: exact
 *   equality (`xid` as its decimal text) on the event's own field or, for a row change, on that
 *   of the statement message that made it (its attribution, `links.ts`). An event newer than
 *   the index has no attribution yet: it matches by its own fields only.
 * - `minRows`: only events whose `rows` (pgAudit's row count) is at least this.
 * - `from` (inclusive) and `to` (exclusive) bound the event time `ts`, in µs since the epoch.
 * - `afterSeq` / `beforeSeq`: only events with `seq` strictly greater / smaller (paging).
 * - `text`: every white-space-separated token occurs, case-insensitively, in the searchable text
 *   (see `text.ts`); blank text matches everything.
 * - `order` (default `"asc"`) sorts by `seq`, the store's order; `limit` keeps the first n.
 */

import { type AuditEvent, EVENT_KINDS, type EventKind } from "../event/model.ts";
import { foldText, searchableText, textMatches, textTokens } from "./text.ts";

/** What to select. Every field is optional; fields set to undefined are ignored. */
export interface EventFilter {
  source?: string | undefined;
  kind?: EventKind | undefined;
  role?: string | undefined;
  db?: string | undefined;
  object?: string | undefined;
  /** Compared case-insensitively. */
  command?: string | undefined;
  app_user?: string | undefined;
  client_addr?: string | undefined;
  application_name?: string | undefined;
  session_id?: string | undefined;
  xid?: number | undefined;
  sqlstate?: string | undefined;
  /** Only events with `rows` (pgAudit `log_rows`) of at least this. */
  minRows?: number | undefined;
  /** Event time lower bound, µs since the epoch, inclusive. */
  from?: number | undefined;
  /** Event time upper bound, µs since the epoch, exclusive. */
  to?: number | undefined;
  /** White-space-separated tokens that must all occur in the statement (or error). */
  text?: string | undefined;
  /** At most this many events; no limit when absent. */
  limit?: number | undefined;
  /** By `seq`; default ascending. */
  order?: "asc" | "desc" | undefined;
  /** Only events with a larger `seq`. */
  afterSeq?: number | undefined;
  /** Only events with a smaller `seq`. */
  beforeSeq?: number | undefined;
}

/**
 * Most tokens in a `text` filter. Each becomes an SQL condition with a bound parameter, and
 * SQLite limits both; a bound that applies in memory too keeps the two answers identical.
 */
export const MAX_TEXT_TOKENS = 64;

/** The string fields compared by exact equality, in the order the SQL builder emits them. */
export const EQUALITY_FIELDS = ["source", "kind", "role", "db", "object"] as const;

/** The fields matched on an event or on the statement that made it, in SQL builder order. */
export const ATTRIBUTED_FIELDS = [
  "app_user",
  "client_addr",
  "application_name",
  "session_id",
  "xid",
  "sqlstate",
] as const;
export type AttributedField = typeof ATTRIBUTED_FIELDS[number];

/** The filters given as plain text (a flag of `vigil query`, a query parameter of the UI). */
export const TEXT_FILTERS = [
  "source",
  "role",
  "db",
  "object",
  "command",
  "text",
  "app_user",
  "client_addr",
  "application_name",
  "session_id",
  "sqlstate",
] as const;

/** A filter after validation, with tokens and folded values worked out once. */
export interface CompiledFilter {
  readonly equal: readonly (readonly [typeof EQUALITY_FIELDS[number], string])[];
  /** Attributed conditions, the value as text (`xid` too). */
  readonly attributed: readonly (readonly [AttributedField, string])[];
  /** Folded command, when filtering on it. */
  readonly command: string | undefined;
  readonly minRows: number | undefined;
  readonly from: number | undefined;
  readonly to: number | undefined;
  readonly afterSeq: number | undefined;
  readonly beforeSeq: number | undefined;
  /** Folded tokens; empty when there is no text condition. */
  readonly tokens: readonly string[];
  readonly limit: number | undefined;
  readonly order: "asc" | "desc";
}

/**
 * Replaces lone surrogates by U+FFFD, as SQLite does when it stores text as UTF-8, so that
 * equality in memory and in SQL agree even on malformed strings.
 */
function wellFormed(s: string): string {
  return s.isWellFormed() ? s : s.toWellFormed();
}

function checkInteger(name: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    throw new TypeError(`Cannot use filter ${name}=${String(v)}: not an integer`);
  }
  if (v < min) throw new RangeError(`Cannot use filter ${name}=${v}: below ${min}`);
  return v;
}

function checkString(name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string") {
    throw new TypeError(`Cannot use filter ${name}: expected a string, got ${typeof v}`);
  }
  return v;
}

/**
 * Validates a filter and precomputes what matching needs. Throws TypeError for a value of the
 * wrong type or an unknown kind or order, RangeError for a negative limit or too many text
 * tokens.
 */
export function compileFilter(filter: EventFilter): CompiledFilter {
  const equal: [typeof EQUALITY_FIELDS[number], string][] = [];
  for (const name of EQUALITY_FIELDS) {
    const v = checkString(name, filter[name]);
    if (v !== undefined) equal.push([name, wellFormed(v)]);
  }
  if (filter.kind !== undefined && !(EVENT_KINDS as readonly string[]).includes(filter.kind)) {
    throw new TypeError(
      `Cannot use filter kind="${filter.kind}": not one of ${EVENT_KINDS.join(", ")}`,
    );
  }
  const attributed: [AttributedField, string][] = [];
  for (const name of ATTRIBUTED_FIELDS) {
    const v = name === "xid"
      ? checkInteger(name, filter.xid, 0)?.toString()
      : checkString(name, filter[name]);
    if (v !== undefined) attributed.push([name, wellFormed(v)]);
  }
  const order = filter.order ?? "asc";
  if (order !== "asc" && order !== "desc") {
    throw new TypeError(`Cannot use filter order="${String(order)}": expected asc or desc`);
  }
  const command = checkString("command", filter.command);
  const text = checkString("text", filter.text);
  const tokens = text === undefined ? [] : textTokens(text);
  if (tokens.length > MAX_TEXT_TOKENS) {
    throw new RangeError(
      `Cannot use filter text: ${tokens.length} distinct tokens, at most ${MAX_TEXT_TOKENS}`,
    );
  }
  const min = Number.MIN_SAFE_INTEGER;
  return {
    equal,
    attributed,
    minRows: checkInteger("minRows", filter.minRows, 0),
    command: command === undefined ? undefined : foldText(command),
    from: checkInteger("from", filter.from, min),
    to: checkInteger("to", filter.to, min),
    afterSeq: checkInteger("afterSeq", filter.afterSeq, min),
    beforeSeq: checkInteger("beforeSeq", filter.beforeSeq, min),
    tokens,
    limit: checkInteger("limit", filter.limit, 0),
    order,
  };
}

/** The text of an attributed field of an event, as the index stores it. */
export function attributedValue(ev: AuditEvent, name: AttributedField): string | undefined {
  const v = ev[name];
  return v === undefined ? undefined : wellFormed(String(v));
}

/**
 * Whether one event passes a compiled filter (every condition but `limit` and `order`);
 * `made` is the statement message that made it, when known (attributed conditions).
 */
export function matchesCompiled(ev: AuditEvent, f: CompiledFilter, made?: AuditEvent): boolean {
  for (const [name, value] of f.equal) {
    const v = ev[name];
    if (v === undefined || wellFormed(v) !== value) return false;
  }
  for (const [name, value] of f.attributed) {
    if (attributedValue(ev, name) === value) continue;
    if (made === undefined || attributedValue(made, name) !== value) return false;
  }
  if (f.command !== undefined) {
    if (ev.command === undefined || foldText(ev.command) !== f.command) return false;
  }
  if (f.minRows !== undefined && !(ev.rows !== undefined && ev.rows >= f.minRows)) return false;
  if (f.from !== undefined && !(ev.ts >= f.from)) return false;
  if (f.to !== undefined && !(ev.ts < f.to)) return false;
  if (f.afterSeq !== undefined && !(ev.seq > f.afterSeq)) return false;
  if (f.beforeSeq !== undefined && !(ev.seq < f.beforeSeq)) return false;
  return f.tokens.length === 0 || textMatches(searchableText(ev), f.tokens);
}

/**
 * Whether one event passes a filter, ignoring `limit` and `order`. Compile once with
 * {@link compileFilter} when matching many events.
 */
export function matchesFilter(ev: AuditEvent, filter: EventFilter): boolean {
  return matchesCompiled(ev, compileFilter(filter));
}

/**
 * The events that pass a filter, sorted by `seq` in the filter's order and cut to its limit:
 * what `EventIndex.query` returns for the same events and filter.
 */
export function selectEvents(events: Iterable<AuditEvent>, filter: EventFilter): AuditEvent[] {
  const f = compileFilter(filter);
  const out: AuditEvent[] = [];
  for (const ev of events) if (matchesCompiled(ev, f)) out.push(ev);
  out.sort(f.order === "asc" ? (a, b) => a.seq - b.seq : (a, b) => b.seq - a.seq);
  return f.limit === undefined ? out : out.slice(0, f.limit);
}
