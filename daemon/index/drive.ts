/**
 * Which way a search walks the index (see `Drive` in `filter_sql.ts`), chosen per query from two
 * bounded counts, so that choosing never costs more than the walk it stands for.
 */

import type { DatabaseSync } from "node:sqlite";
import type { CompiledFilter } from "./filter.ts";
import {
  type Drive,
  hasFieldConditions,
  narrowSql,
  type SqlQuery,
  textMatch,
} from "./filter_sql.ts";

/**
 * Most events a text search walks row by row, nominating each for the log to test its text,
 * when its other conditions (role, time…) leave that few and the trigram index holds more
 * candidates; else it walks the candidates newest first. A bounded count of that many costs a
 * few ms, and where the text is common among them, the first page read from the log fills.
 */
const ROW_WALK_LIMIT = 20_000;
/**
 * Events a walk tests in well under a millisecond or two: that few, the walk is taken without
 * asking the trigram index how many candidates it holds, which costs more where a common term's
 * candidates are dense (tens of ms for a term in half the events).
 */
const ROW_WALK_CHEAP = 1024;

/**
 * The plan of a search: by the trigram index, unless conditions besides text and `seq` bounds
 * leave at most ROW_WALK_LIMIT events and the index holds more candidates than that; two bounded
 * counts tell, the second cut at the first.
 */
export function chooseDrive(db: DatabaseSync, f: CompiledFilter): Drive {
  if (textMatch(f) === undefined) return "rows";
  if (!hasFieldConditions(f)) return "text";
  const rows = countAtMost(db, narrowSql(f, "rows", ROW_WALK_LIMIT + 1));
  if (rows > ROW_WALK_LIMIT) return "text";
  if (rows <= ROW_WALK_CHEAP) return "rows";
  return countAtMost(db, narrowSql(f, "text", rows)) < rows ? "text" : "rows";
}

function countAtMost(db: DatabaseSync, { sql, params }: SqlQuery): number {
  return Number(db.prepare(sql).get(...params)?.n ?? 0);
}
