/**
 * Translates a compiled {@link EventFilter} into parameterised SELECTs over the index. Column
 * names come from constants here; every value the user gave is a bound parameter, never SQL
 * text. The semantics are those documented in `filter.ts`, and `matchesCompiled` there must
 * change together with this file, except for text: the index holds trigrams, not text, so a
 * text condition here only narrows to events that may match, and the log decides.
 *
 * A text filter can be answered two ways, with the same result (see {@link Drive}); which one
 * is faster depends on how many events each would read, so `EventIndex` chooses per query with
 * {@link narrowSql}.
 */

import type { SQLInputValue } from "node:sqlite";
import type { CompiledFilter } from "./filter.ts";
import { FIELD_SHIFT, fieldKey } from "./field_keys.ts";
import { NAME_ID } from "./names.ts";
import { ftsQuery } from "./text.ts";
import { NOMINATED_SEQS, TEXT_SPAN } from "./text_spans.ts";

/** The seqs of the `fields` rows of one bound key, every block of the table in turn. */
const FIELD_SEQS = `WITH RECURSIVE b(x) AS (
    SELECT min(block) FROM fields
    UNION ALL SELECT x + 1 FROM b WHERE x < (SELECT max(block) FROM fields)
  ) SELECT (block << ${FIELD_SHIFT}) + off FROM fields WHERE block IN (SELECT x FROM b) AND key = ?`;

/** A statement and its parameters. */
export interface SqlQuery {
  readonly sql: string;
  readonly params: SQLInputValue[];
}

/**
 * How a SELECT with a text condition finds its events. Either way the text condition only
 * narrows: the index holds each event's trigrams, not its text, so an event it nominates holds
 * every trigram of every token but maybe not the token (and a token shorter than a trigram is not
 * looked at); the search tests the event read from the log (`search.ts`), which decides.
 * - `"rows"` walks `events` (by `seq`, or by an index on the other conditions) and nominates
 *   every row, whatever its text: the log tests them (a page of them at a time). Cheap when the
 *   other conditions leave few events, and when the text is common among them.
 * - `"text"` walks the trigram index's candidates in `seq` order, newest first for `desc`, and
 *   stops at the limit: cheap when the other conditions leave many events, since a page of
 *   matches then lies among the first candidates. Without it, SQLite resolved every trigram
 *   match before ordering and cutting to a page, so a common term cost seconds on 10M events.
 *
 * A filter without text, or whose tokens are all too short for a trigram, is always `"rows"`.
 */
export type Drive = "rows" | "text";

/** The trigram query of a filter's text, undefined when the index cannot narrow it. */
export function textMatch(f: CompiledFilter): string | undefined {
  return f.tokens.length === 0 ? undefined : ftsQuery(f.tokens);
}

/** Whether a filter has conditions besides text and `seq` bounds. */
export function hasFieldConditions(f: CompiledFilter): boolean {
  return f.equal.length > 0 || f.attributed.length > 0 || f.minRows !== undefined ||
    f.command !== undefined ||
    f.from !== undefined ||
    f.to !== undefined;
}

/**
 * An attributed condition tested row by row: the `fields` row of the event's own seq, one seek.
 * For a statement run once per span of the text walk, where {@link FIELD_SEQS} would gather the
 * key's seqs across the whole table again each time.
 */
const FIELD_OF_ROW = `EXISTS (SELECT 1 FROM fields WHERE block = (events.seq >> ${FIELD_SHIFT})
    AND key = ? AND off = (events.seq & ${2 ** FIELD_SHIFT - 1}))`;

/**
 * Appends every condition but text, `seq` bounds included. `perRow` tests attributed
 * conditions row by row instead of as a set of seqs.
 */
function fieldConditions(
  f: CompiledFilter,
  out: { where: string[]; params: SQLInputValue[] },
  perRow = false,
): void {
  const { where, params } = out;
  for (const [name, value] of f.equal) {
    // `name` is one of the EQUALITY_FIELDS constants, each a column of `events` holding ids.
    where.push(`events.${name} = ${NAME_ID}`);
    params.push(value);
  }
  for (const [name, value] of f.attributed) {
    // The event's own value or its statement's: both are rows of `fields` (see links.ts), found
    // by one seek per block of the key's head, or by one seek for the row's own seq.
    where.push(perRow ? FIELD_OF_ROW : `events.seq IN (${FIELD_SEQS})`);
    params.push(fieldKey(name, value));
  }
  if (f.minRows !== undefined) {
    where.push("events.seq IN (SELECT seq FROM row_counts WHERE rows >= ?)");
    params.push(f.minRows);
  }
  if (f.command !== undefined) {
    where.push(`events.command_key = ${NAME_ID}`);
    params.push(f.command);
  }
  if (f.from !== undefined) {
    where.push("events.ts >= ?");
    params.push(f.from);
  }
  if (f.to !== undefined) {
    where.push("events.ts < ?");
    params.push(f.to);
  }
  if (f.afterSeq !== undefined) {
    where.push("events.seq > ?");
    params.push(f.afterSeq);
  }
  if (f.beforeSeq !== undefined) {
    where.push("events.seq < ?");
    params.push(f.beforeSeq);
  }
}

/**
 * The WHERE conditions of a filter walked from `events` (all but limit and order), "" for
 * none; with `text`, the text as the set of the trigram index's candidate seqs. SQLite gathers
 * that set before the walk, all of a common term's candidates whatever the other conditions
 * (FTS5 cannot seek to a `rowid` bound in a table without positions): for counting, not for
 * walking a page.
 */
function conditions(f: CompiledFilter, text: boolean): SqlQuery {
  const where: string[] = [];
  const params: SQLInputValue[] = [];
  const fts = text ? textMatch(f) : undefined;
  if (fts !== undefined) {
    where.push(`events.seq IN (${NOMINATED_SEQS})`);
    params.push(fts);
  }
  fieldConditions(f, { where, params });
  return { sql: where.join(" AND "), params };
}

/**
 * The two SELECTs of the `"text"` walk (see {@link Drive}) of a filter with a trigram query:
 * `spans` gives the `rowid`s of the matching span rows (`text_spans.ts`) in the filter's order,
 * from FTS5's own rowid order so that the walk stops at the page; `members` (its first two
 * parameters the bounds, to prepend) the indexed seqs of one span's range that pass the other
 * conditions, in the same order. One statement joining both would need SQLite to sort all
 * candidates first: FTS5 serves an ORDER BY on its rowid alone.
 */
export function textWalkSql(
  f: CompiledFilter,
  fts: string,
): { spans: SqlQuery; members: SqlQuery } {
  const where = ["events_text MATCH ?"];
  const params: SQLInputValue[] = [fts];
  // On the FTS rowid, so that a page's bound seeks in the trigram index instead of walking
  // candidates down to it; a span starting up to a span's width before `afterSeq` may hold seqs
  // after it.
  if (f.afterSeq !== undefined) {
    where.push("events_text.rowid > ?");
    params.push(f.afterSeq - TEXT_SPAN);
  }
  if (f.beforeSeq !== undefined) {
    where.push("events_text.rowid < ?");
    params.push(f.beforeSeq);
  }
  const dir = f.order === "desc" ? "DESC" : "ASC";
  const spans = {
    sql: "SELECT events_text.rowid AS r FROM events_text WHERE " + where.join(" AND ") +
      ` ORDER BY events_text.rowid ${dir}`,
    params,
  };
  const cond = { where: ["events.seq BETWEEN ? AND ?"], params: [] as SQLInputValue[] };
  fieldConditions(f, cond, true);
  const members = {
    sql: "SELECT events.seq AS seq FROM events WHERE " + cond.where.join(" AND ") +
      ` ORDER BY events.seq ${dir}`,
    params: cond.params,
  };
  return { spans, members };
}

/**
 * SELECT of the seqs of the events the `"rows"` walk (see {@link Drive}) nominates, in order,
 * limited: from an index on the conditions without reading rows where the conditions allow it.
 */
export function selectSql(f: CompiledFilter): SqlQuery {
  const { sql: where, params } = conditions(f, false);
  const order = " ORDER BY events.seq " + (f.order === "desc" ? "DESC" : "ASC");
  const limit = f.limit === undefined ? "" : " LIMIT ?";
  if (f.limit !== undefined) params.push(f.limit);
  return {
    sql: "SELECT events.seq AS seq FROM events" + (where === "" ? "" : " WHERE " + where) +
      order + limit,
    params,
  };
}

/**
 * SELECT of `n`, the work a walk driven by `drive` would do, counting at most `cap`: for
 * `"rows"` how many events pass the filter's conditions other than text, which SQLite answers
 * from the index on those conditions, mostly without reading rows; for `"text"` how many
 * candidates the trigram index holds, whatever the `seq` bounds: FTS5 finds a bound inside a
 * common term's candidates by walking them from the first (hundreds of ms at 1M events, where
 * the walk it decides on takes a few), so a count from the first candidate on, which reaches
 * `cap` soonest, decides. It errs only towards the walk of rows, which costs little when `cap`
 * is small.
 */
export function narrowSql(f: CompiledFilter, drive: Drive, cap: number): SqlQuery {
  const where: string[] = [];
  const params: SQLInputValue[] = [];
  const fts = drive === "text" ? textMatch(f) : undefined;
  let from = "events";
  if (fts !== undefined) {
    from = "events_text";
    where.push("events_text MATCH ?");
    params.push(fts);
  } else {
    fieldConditions(f, { where, params });
  }
  const cond = where.length === 0 ? "" : " WHERE " + where.join(" AND ");
  params.push(cap);
  return { sql: `SELECT count(*) AS n FROM (SELECT 1 FROM ${from}${cond} LIMIT ?)`, params };
}

/**
 * SELECT of the number of events the index nominates; limit and order do not apply. Exact for a
 * filter without text; with text, an upper bound (see {@link Drive}).
 */
export function countSql(f: CompiledFilter): SqlQuery {
  const { sql: where, params } = conditions(f, true);
  return {
    sql: "SELECT count(*) AS n FROM events" + (where === "" ? "" : " WHERE " + where),
    params,
  };
}
