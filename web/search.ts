/**
 * Event search for the UI and the API: the filters of `vigil query`, newest first, a page at a
 * time. Pages are cut by seq (keyset pagination: "before seq N"), never by OFFSET, so page 1000
 * costs what page 1 costs on ten million events. The index answers what it holds; events newer
 * than it (the index lags the store by a moment) are read from the log's tail and filtered with
 * the same semantics, so a search never misses a durable event.
 */

import type { AuditEvent } from "../daemon/event/model.ts";
import { EVENT_KINDS, type EventKind } from "../daemon/event/model.ts";
import { parseRfc3339Micros } from "../daemon/event/time.ts";
import { compileFilter, type EventFilter, matchesCompiled } from "../daemon/index/filter.ts";
import { readLog } from "../daemon/store/log_reader.ts";
import type { WebDeps } from "./deps.ts";

/** Largest page. */
export const MAX_PAGE = 1000;
/** Page size of the UI. */
export const DEFAULT_PAGE = 50;

/** The filters a search form or API call may carry (the `query` flags), as text. */
export const FILTER_PARAMS = [
  "source",
  "kind",
  "role",
  "db",
  "object",
  "command",
  "from",
  "to",
  "text",
] as const;

/** A request parameter that cannot be used; the message names it. */
export class SearchParamError extends TypeError {
  override name = "SearchParamError";
}

/** One page of results. */
export interface SearchPage {
  events: AuditEvent[];
  /** The `before` cursor of the next (older) page, or null on the last page. */
  next: number | null;
  /** Events newer than the index that were scanned from the log. */
  scanned: number;
  /** True when there is no index and the whole log was scanned. */
  noIndex: boolean;
}

/** A parsed search request. */
export interface SearchRequest {
  filter: EventFilter;
  /** Only events with a smaller seq (the cursor). */
  before: number | undefined;
  limit: number;
}

/**
 * A time parameter in µs: RFC 3339, or as UTC a date ("2026-01-02") or a date-time input's
 * value ("2026-01-02T10:30"). Throws SearchParamError naming the parameter.
 */
export function parseTimeParam(name: string, v: string): number {
  try {
    let text = v;
    if (/^\d{4}-\d\d-\d\d$/.test(v)) text = `${v}T00:00:00Z`;
    else if (/^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(v)) text = `${v}:00Z`;
    else if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(v)) text = `${v}Z`;
    return parseRfc3339Micros(text);
  } catch (e) {
    throw new SearchParamError(`${name}: ${(e as Error).message}`);
  }
}

function nonNegative(name: string, v: string): number {
  if (!/^\d{1,15}$/.test(v)) throw new SearchParamError(`${name}: not a non-negative integer`);
  return Number(v);
}

/** Reads filters, cursor and limit from query parameters; blank values are ignored. */
export function parseSearch(
  get: (name: string) => string | undefined,
  defaults: { limit: number },
): SearchRequest {
  const filter: EventFilter = {};
  for (const k of ["source", "role", "db", "object", "command", "text"] as const) {
    const v = get(k)?.trim();
    if (v) filter[k] = v;
  }
  const kind = get("kind")?.trim();
  if (kind) {
    if (!(EVENT_KINDS as readonly string[]).includes(kind)) {
      throw new SearchParamError(`kind: not one of ${EVENT_KINDS.join(", ")}`);
    }
    filter.kind = kind as EventKind;
  }
  const from = get("from")?.trim(), to = get("to")?.trim();
  if (from) filter.from = parseTimeParam("from", from);
  if (to) filter.to = parseTimeParam("to", to);
  const before = get("before")?.trim();
  const limitText = get("limit")?.trim();
  const limit = limitText ? nonNegative("limit", limitText) : defaults.limit;
  if (limit < 1 || limit > MAX_PAGE) throw new SearchParamError(`limit: 1 to ${MAX_PAGE}`);
  try {
    compileFilter(filter);
  } catch (e) {
    throw new SearchParamError((e as Error).message);
  }
  return { filter, before: before ? nonNegative("before", before) : undefined, limit };
}

/** The filter as JSON for the audit trail (times as given, µs). */
export function describeFilter(r: SearchRequest): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(r.filter)) if (v !== undefined) out[k] = v as string;
  if (r.before !== undefined) out.before = r.before;
  return out;
}

/**
 * One page of events, newest first, older than `before`, among the first `upTo` events (default:
 * all durable ones). Callers pass the store's size from before they recorded the request in the
 * chain, so that their own audit event does not make the index look behind and cost a scan of
 * the log's tail.
 */
export async function searchEvents(
  deps: WebDeps,
  req: SearchRequest,
  upTo: number = deps.store.size,
): Promise<SearchPage> {
  const want = req.limit + 1;
  const size = Math.min(upTo, deps.store.size);
  const before = Math.min(req.before ?? size, size);
  const index = deps.index;
  const lastIndexed = index ? Math.min(index.lastSeq(), size - 1) : -1;
  const compiled = compileFilter({ ...req.filter, beforeSeq: before });
  // The tail newer than the index, newest first; empty when the index has caught up.
  const tail: AuditEvent[] = [];
  let scanned = 0;
  if (lastIndexed + 1 < before) {
    for await (
      const r of readLog(deps.store.dataDir, { fromSeq: lastIndexed + 1, toSeq: before })
    ) {
      scanned++;
      if (matchesCompiled(r.event, compiled)) tail.push(r.event);
    }
    tail.reverse();
  }
  let events = tail.slice(0, want);
  if (index && events.length < want) {
    const rest = index.query({
      ...req.filter,
      beforeSeq: Math.min(before, lastIndexed + 1),
      order: "desc",
      limit: want - events.length,
    });
    events = events.concat(rest);
  }
  const more = events.length > req.limit;
  if (more) events = events.slice(0, req.limit);
  return {
    events,
    next: more ? events[events.length - 1]!.seq : null,
    scanned,
    noIndex: index === null,
  };
}

/** One event by seq (index first, the log otherwise), or null past the end. */
export async function eventBySeq(deps: WebDeps, seq: number): Promise<AuditEvent | null> {
  if (!Number.isSafeInteger(seq) || seq < 0 || seq >= deps.store.size) return null;
  const hit = deps.index?.query({ afterSeq: seq - 1, beforeSeq: seq + 1, limit: 1 })[0];
  if (hit) return hit;
  for await (const r of readLog(deps.store.dataDir, { fromSeq: seq, toSeq: seq + 1 })) {
    return r.event;
  }
  return null;
}
