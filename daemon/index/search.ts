/**
 * Searching the log, with the index as a guide and the log as the truth: what `vigil query`, the
 * Events page, the events API and downloads return. The index nominates seqs; each event is read
 * from the log by seq (`store/seq_reader.ts`) and tested against the filter again, so an index
 * row that says otherwise than its event cannot change what is shown, and is simply dropped.
 * Where the index cannot answer — seqs newer than it, seqs it never held, blocks whose rows were
 * deleted or edited by hand (`tally.ts`) — the log is scanned and filtered with the same
 * semantics (`filter.ts`), so an event missing from the index is still found.
 *
 * Results stream in seq order, in batches, in bounded memory: the index is walked by one
 * statement a range (keyset-paged where a limit cuts it), and the log is read a page or a scan
 * chunk at a time, whatever the number of matches. A page's cost follows the page: where the log
 * refuses part of what the index nominates (text), the index is asked for as many seqs as the
 * share refused so far says the page needs, so a page takes a few rounds whatever the store's size.
 *
 * @example
 * ```ts
 * for await (const batch of searchLog({ index, reader }, { role: "alice", order: "desc" })) {
 *   for (const r of batch) print(r.json);
 * }
 * ```
 */

import type { AuditEvent } from "../event/model.ts";
import type { SeqReader, SeqRecord } from "../store/seq_reader.ts";
import type { EventIndex } from "./event_index.ts";
import { type CompiledFilter, compileFilter, type EventFilter, matchesCompiled } from "./filter.ts";

/** Where a search reads: the index (none when there is none yet) and the log. */
export interface SearchSources {
  index: EventIndex | null;
  reader: SeqReader;
}

/** Tunables and bounds of one search. */
export interface SearchOptions {
  /** Only events below this seq: the log's size when the search began. Default: its end now. */
  upTo?: number;
  /** Seqs taken from the index, and so events read from the log, per batch. Default 512. */
  page?: number;
}

/** What a search did, for the UI's notices and for tests. */
export interface SearchStats {
  /** Events read by scanning the log, where the index could not answer. */
  scanned: number;
  /** Seqs the index nominated whose event in the log did not match (or is gone). */
  dropped: number;
}

const PAGE = 512;

/** A stretch of seqs and how to search it. */
interface Part {
  from: number;
  to: number;
  via: "index" | "log";
}

/**
 * The matching events, in the filter's order, cut to its limit, as batches of log records.
 * `stats` (when given) is updated as the search goes.
 */
export async function* searchLog(
  src: SearchSources,
  filter: EventFilter,
  opts: SearchOptions = {},
  stats: SearchStats = { scanned: 0, dropped: 0 },
): AsyncGenerator<SeqRecord[]> {
  const f = compileFilter(filter);
  let remaining = f.limit ?? Infinity;
  if (remaining <= 0) return;
  const parts = await plan(src, f, opts);
  if (f.order === "desc") parts.reverse();
  const conditions = bare(filter);
  for (const part of parts) {
    const batches = part.via === "log"
      ? scanPart(src.reader, f, part, stats)
      : indexPart(src, f, { ...part, conditions }, {
        page: opts.page ?? PAGE,
        remaining,
        stats,
      });
    for await (const batch of batches) {
      const out = batch.length > remaining ? batch.slice(0, remaining) : batch;
      remaining -= out.length;
      if (out.length > 0) yield out;
      if (remaining <= 0) return;
    }
  }
}

/**
 * How many events match, limit aside: the index counts where it can (a filter without text), the
 * log elsewhere, and tests the index's candidates of a text filter against the log.
 */
export async function countMatches(
  src: SearchSources,
  filter: EventFilter,
  opts: SearchOptions = {},
): Promise<number> {
  const f = compileFilter({ ...filter, limit: undefined });
  let n = 0;
  for (const part of await plan(src, f, opts, true)) {
    if (part.via === "index" && f.tokens.length === 0) {
      n += src.index!.count({ ...bare(filter), afterSeq: part.from - 1, beforeSeq: part.to });
    } else if (part.via === "index") {
      // The index holds trigrams, not text: its candidates are tested against the log.
      const stats = { scanned: 0, dropped: 0 };
      const run = { page: opts.page ?? PAGE, remaining: Infinity, stats };
      for await (const batch of indexPart(src, f, { ...part, conditions: bare(filter) }, run)) {
        n += batch.length;
      }
    } else {
      for await (const batch of scanPart(src.reader, f, part, { scanned: 0, dropped: 0 })) {
        n += batch.length;
      }
    }
  }
  return n;
}

/**
 * For a filter with attributed conditions, the statement message (read from the log) of each
 * row change the index links to one: what the index nominated is tested against the log's
 * events, the link included, never against the index's copy of their fields.
 */
async function statementsOf(
  src: SearchSources,
  f: CompiledFilter,
  recs: readonly SeqRecord[],
): Promise<Map<number, AuditEvent>> {
  const out = new Map<number, AuditEvent>();
  if (f.attributed.length === 0 || src.index === null) return out;
  const wanted = new Map<number, number>();
  for (const r of recs) {
    if (r.event.kind !== "row_change") continue;
    const stmt = src.index.attribution(r.seq, 0).statement;
    if (stmt !== undefined) wanted.set(r.seq, stmt);
  }
  if (wanted.size === 0) return out;
  const stmts = new Map((await src.reader.read([...new Set(wanted.values())].sort((a, b) => a - b)))
    .map((s) => [s.seq, s.event]));
  for (const [seq, stmt] of wanted) {
    const ev = stmts.get(stmt);
    if (ev !== undefined) out.set(seq, ev);
  }
  return out;
}

/** The filter's conditions without paging: parts bring their own bounds. */
function bare(filter: EventFilter): EventFilter {
  const { limit: _l, order: _o, afterSeq: _a, beforeSeq: _b, ...rest } = filter;
  return rest;
}

/**
 * Splits the seqs the search covers — the log on disk within the filter's seq bounds — into
 * ascending parts answered by the index and parts scanned from the log. The log's start (what
 * retention left) is looked up — a listing of the segments, which grows with the store — for a
 * count, which believes the index's rows, and where the index does not claim the first seqs;
 * else seqs the index nominates below it, whose rows the feed has yet to drop, are not in the
 * log and are dropped by the search like any other.
 */
async function plan(
  src: SearchSources,
  f: CompiledFilter,
  opts: SearchOptions,
  counting = false,
): Promise<Part[]> {
  const end = opts.upTo ?? await src.reader.end();
  let lo = Math.max(0, f.afterSeq === undefined ? 0 : f.afterSeq + 1);
  const hi = Math.min(end, f.beforeSeq ?? end);
  if (!(lo < hi)) return [];
  const claims = src.index?.claims() ?? null;
  if (counting || claims === null || lo < claims.first) {
    lo = Math.max(lo, await src.reader.start());
  }
  if (!(lo < hi)) return [];
  if (claims === null) return [{ from: lo, to: hi, via: "log" }];
  const parts: Part[] = [];
  const iLo = Math.max(lo, claims.first), iHi = Math.min(hi, claims.last + 1);
  if (!(iLo < iHi)) return [{ from: lo, to: hi, via: "log" }];
  if (lo < iLo) parts.push({ from: lo, to: iLo, via: "log" });
  lo = iLo;
  for (const [from, to] of src.index!.untrusted(iLo, iHi)) {
    if (lo < from) parts.push({ from: lo, to: from, via: "index" });
    parts.push({ from, to, via: "log" });
    lo = to;
  }
  if (lo < iHi) parts.push({ from: lo, to: iHi, via: "index" });
  if (iHi < hi) parts.push({ from: iHi, to: hi, via: "log" });
  return parts;
}

/** A part read from the log in scan chunks, filtered in memory. */
async function* scanPart(
  reader: SeqReader,
  f: CompiledFilter,
  part: Part,
  stats: SearchStats,
): AsyncGenerator<SeqRecord[]> {
  for await (const chunk of reader.scan(part.from, part.to, { order: f.order })) {
    stats.scanned += chunk.length;
    yield chunk.filter((r) => matchesCompiled(r.event, f));
  }
}

/**
 * Above what the share of nominations the log kept so far says the remaining matches need, the
 * seqs the next statement and page ask for: the share wavers from page to page, and one more
 * round (a statement, a read of the log, its blocks decompressed again) costs more than the few
 * extra events read.
 */
const NEED_MARGIN = 1.25;

/**
 * How many more seqs the index should nominate for `remaining` matches, when `nominated` of its
 * seqs so far gave `matched`: `remaining` while the log has kept every one (a filter without
 * text, an index that says the truth), else as many as the share kept so far needs. A text
 * condition is a superset (trigrams, spans of events), so the share can be a fifth or less; a
 * walk that asked for `remaining` each time took a round per few matches, and their number grew
 * with the events a filter reaches, not with the page.
 */
export function seqsNeeded(remaining: number, nominated: number, matched: number): number {
  if (!Number.isFinite(remaining) || matched >= nominated) return remaining;
  // None kept yet: as if the next would be, so the ask grows by the seqs tried, not unbounded.
  const share = Math.max(matched, 1) / nominated;
  return Math.ceil((remaining / share) * NEED_MARGIN);
}

/**
 * A part answered by the index: its seqs a page at a time, each page's events read from the
 * log and tested again. One statement walks the part, asking for the seqs the filter's limit
 * needs ({@link seqsNeeded}); when that cut it short and events were dropped, the next statement
 * goes on after the last seq seen, asking for more by the share the log kept.
 */
async function* indexPart(
  src: SearchSources,
  f: CompiledFilter,
  part: Part & { conditions: EventFilter },
  run: { page: number; remaining: number; stats: SearchStats },
): AsyncGenerator<SeqRecord[]> {
  const desc = f.order === "desc";
  let { from, to } = part;
  let remaining = run.remaining;
  let nominated = 0, matched = 0;
  while (from < to && remaining > 0) {
    const need = seqsNeeded(remaining, nominated, matched);
    const limit = Number.isFinite(need) ? need : undefined;
    const seqs = src.index!.iterateSeqs({
      ...part.conditions,
      afterSeq: from - 1,
      beforeSeq: to,
      order: f.order,
      limit,
    });
    let taken = 0;
    try {
      for (let full = true; full && remaining > 0;) {
        // A page no larger than the remaining matches need: a page read from the log costs a
        // block decompressed for each block its events lie in.
        const size = Math.min(run.page, seqsNeeded(remaining, nominated, matched));
        const page: number[] = [];
        for (let r = seqs.next(); !r.done; r = seqs.next()) {
          if (page.push(r.value) >= size) break;
        }
        full = page.length >= size;
        if (page.length === 0) break;
        taken += page.length;
        if (desc) to = page[page.length - 1]!;
        else from = page[page.length - 1]! + 1;
        const recs = await src.reader.read(page);
        if (desc) recs.reverse();
        const made = await statementsOf(src, f, recs);
        const hits = recs.filter((r) => matchesCompiled(r.event, f, made.get(r.seq)));
        run.stats.dropped += page.length - hits.length;
        nominated += page.length;
        matched += hits.length;
        remaining -= hits.length;
        yield hits;
      }
    } finally {
      seqs.return();
    }
    // Only a statement cut by its LIMIT can leave matches behind it.
    if (limit === undefined || taken < limit) return;
  }
}
