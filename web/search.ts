/**
 * Event search for the UI and the API: the filters of `vigil query`, newest first, a page at a
 * time. Pages are cut by seq (keyset pagination: "before seq N"), never by OFFSET, so page 1000
 * costs what page 1 costs on ten million events. Every event shown is read from the log by seq
 * (`daemon/index/search.ts`): the index only nominates seqs, a row that no longer matches its
 * event is dropped, and what the index does not hold (its lag behind the store, rows removed by
 * hand) is scanned from the log with the same semantics, so a search never misses a durable
 * event and the index cannot change one.
 */

import type { AuditEvent } from "../daemon/event/model.ts";
import { EVENT_KINDS, type EventKind } from "../daemon/event/model.ts";
import { parseRfc3339Micros } from "../daemon/event/time.ts";
import { compileFilter, type EventFilter, TEXT_FILTERS } from "../daemon/index/filter.ts";
import { countMatches, searchLog, type SearchStats } from "../daemon/index/search.ts";
import { SeqReader } from "../daemon/store/seq_reader.ts";
import type { Store } from "../daemon/store/store.ts";
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
  "app_user",
  "client_addr",
  "application_name",
  "session_id",
  "xid",
  "sqlstate",
  "min_rows",
  "from",
  "to",
  "text",
] as const;

/** The filters that have a control of their own on the search form, not a plain text box. */
const OWN_CONTROLS: ReadonlySet<string> = new Set(["kind", "from", "to", "text"]);

/** The filters the search form shows as plain text boxes, in {@link FILTER_PARAMS} order. */
export const FORM_TEXT_PARAMS = FILTER_PARAMS.filter((k) => !OWN_CONTROLS.has(k));

/** A request parameter that cannot be used; the message names it. */
export class SearchParamError extends TypeError {
  override name = "SearchParamError";
}

/** One page of results. */
export interface SearchPage {
  events: AuditEvent[];
  /** The `before` cursor of the next (older) page, or null on the last page. */
  next: number | null;
  /** Events scanned from the log where the index could not answer (newer than it, or damaged). */
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
  for (const k of TEXT_FILTERS) {
    const v = get(k)?.trim();
    if (v) filter[k] = v;
  }
  const xid = get("xid")?.trim();
  if (xid) filter.xid = nonNegative("xid", xid);
  const minRows = get("min_rows")?.trim();
  if (minRows) filter.minRows = nonNegative("min_rows", minRows);
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

/** One reader of the log per store, so its segment maps are shared by every request. */
const readers = new WeakMap<Store, Promise<SeqReader>>();

/** The log reader of the app's store. */
export function logReader(deps: WebDeps): Promise<SeqReader> {
  let r = readers.get(deps.store);
  if (r === undefined) {
    r = SeqReader.open(deps.store.dataDir);
    readers.set(deps.store, r);
    r.catch(() => readers.delete(deps.store));
  }
  return r;
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
  const size = Math.min(upTo, deps.store.size);
  const before = Math.min(req.before ?? size, size);
  const stats: SearchStats = { scanned: 0, dropped: 0 };
  const src = { index: deps.index, reader: await logReader(deps) };
  const filter = { ...req.filter, beforeSeq: before, order: "desc" as const, limit: req.limit + 1 };
  let events: AuditEvent[] = [];
  for await (const batch of searchLog(src, filter, { upTo: size }, stats)) {
    for (const r of batch) events.push(r.event);
  }
  const more = events.length > req.limit;
  if (more) events = events.slice(0, req.limit);
  return {
    events,
    next: more ? events[events.length - 1]!.seq : null,
    scanned: stats.scanned,
    noIndex: deps.index === null,
  };
}

/** How many events match a filter among the first `upTo`; limit and order do not apply. */
export async function countEvents(
  deps: WebDeps,
  filter: EventFilter,
  upTo: number = deps.store.size,
): Promise<number> {
  const src = { index: deps.index, reader: await logReader(deps) };
  return await countMatches(src, filter, { upTo: Math.min(upTo, deps.store.size) });
}

/** The oldest (`asc`) or newest (`desc`) matching event among the first `upTo`, or null. */
export async function edgeEvent(
  deps: WebDeps,
  filter: EventFilter,
  order: "asc" | "desc",
  upTo: number = deps.store.size,
): Promise<AuditEvent | null> {
  const src = { index: deps.index, reader: await logReader(deps) };
  const opts = { upTo: Math.min(upTo, deps.store.size) };
  for await (const batch of searchLog(src, { ...filter, order, limit: 1 }, opts)) {
    if (batch[0]) return batch[0].event;
  }
  return null;
}

/** One event by seq, read from the log; null past the end. */
export async function eventBySeq(deps: WebDeps, seq: number): Promise<AuditEvent | null> {
  if (!Number.isSafeInteger(seq) || seq < 0 || seq >= deps.store.size) return null;
  return (await (await logReader(deps)).get(seq))?.event ?? null;
}
