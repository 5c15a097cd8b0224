/**
 * Translates a compiled {@link EventFilter} into one parameterised SELECT over the index. Column
 * names come from constants here; every value the user gave is a bound parameter, never SQL
 * text. The semantics are those documented in `filter.ts`, and `matchesCompiled` there must
 * change together with this file.
 */

import type { SQLInputValue } from "node:sqlite";
import type { CompiledFilter } from "./filter.ts";
import { ftsQuery } from "./text.ts";

/** A statement and its parameters. */
export interface SqlQuery {
  readonly sql: string;
  readonly params: SQLInputValue[];
}

/** The WHERE conditions of a filter (all but limit and order), "" for none. */
function conditions(f: CompiledFilter): SqlQuery {
  const where: string[] = [];
  const params: SQLInputValue[] = [];
  if (f.tokens.length > 0) {
    const match = ftsQuery(f.tokens);
    if (match !== undefined) {
      where.push("events.seq IN (SELECT rowid FROM events_text WHERE events_text MATCH ?)");
      params.push(match);
    }
    // The trigram lookup only narrows; this is the exact substring test, and the only one for
    // tokens too short to have a trigram. Both sides are folded already; a NULL body (an event
    // without searchable text) fails it, as textMatches() does.
    for (const tok of f.tokens) {
      where.push("instr(events.body, ?) > 0");
      params.push(tok);
    }
  }
  for (const [name, value] of f.equal) {
    // `name` is one of the EQUALITY_FIELDS constants, each a column of `events`.
    where.push(`events.${name} = ?`);
    params.push(value);
  }
  if (f.command !== undefined) {
    where.push("events.command_key = ?");
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
  return { sql: where.join(" AND "), params };
}

/**
 * SELECT of the canonical JSON of matching events, in order, limited. With conditions, the
 * inner query orders and cuts bare seqs (answered from an index without reading rows) and the
 * outer one fetches the JSON of the survivors by primary key in order; ordering whole rows
 * instead made SQLite sort every matching event's JSON to return 50 of them.
 */
export function selectSql(f: CompiledFilter): SqlQuery {
  const { sql: where, params } = conditions(f);
  const order = " ORDER BY events.seq " + (f.order === "desc" ? "DESC" : "ASC");
  const limit = f.limit === undefined ? "" : " LIMIT ?";
  if (f.limit !== undefined) params.push(f.limit);
  if (where === "") {
    return { sql: "SELECT events.json AS json FROM events" + order + limit, params };
  }
  const inner = "SELECT events.seq FROM events WHERE " + where +
    (limit === "" ? "" : order + limit);
  return {
    sql: `SELECT events.json AS json FROM events WHERE events.seq IN (${inner})` + order,
    params,
  };
}

/** SELECT of the number of matching events; limit and order do not apply. */
export function countSql(f: CompiledFilter): SqlQuery {
  const { sql: where, params } = conditions(f);
  return {
    sql: "SELECT count(*) AS n FROM events" + (where === "" ? "" : " WHERE " + where),
    params,
  };
}
