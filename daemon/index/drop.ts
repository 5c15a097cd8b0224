/**
 * Dropping the index rows of events retention deleted from the log: the rows below a seq, a
 * bounded number of seqs a transaction, with their attribution links, attributed fields and row
 * counts, their trigrams in the full-text table and their tally blocks and time zones, so that
 * what is left is still vouched for (`tally.ts`) and the index claims seqs from the new start
 * only. Nothing below that start is hidden by this: searches read what the index does not claim
 * from the log, which no longer holds it.
 */

import type { DatabaseSync } from "node:sqlite";
import { FIELD_SHIFT, fieldBlock } from "./field_keys.ts";
import { firstSeq, tallyDropped } from "./tally.ts";
import { zonesDropped } from "./zones.ts";
import { spanStart } from "./text_spans.ts";

/**
 * Drops the rows of seqs below `to`, at most `limit` seqs' worth, in one transaction. Returns
 * whether rows below `to` remain (call again, yielding between).
 */
export function dropRowsBefore(db: DatabaseSync, to: number, limit: number): boolean {
  if (!Number.isSafeInteger(to) || !Number.isSafeInteger(limit) || limit <= 0) {
    throw new RangeError(`bad bound ${to} or limit ${limit}`);
  }
  const lowest = db.prepare("SELECT min(seq) AS m FROM events").get()?.m;
  const from = typeof lowest === "number" ? lowest : to;
  if (from >= to && (firstSeq(db) ?? 0) >= to) return false;
  const hi = Math.min(to, from + limit);
  db.exec("BEGIN IMMEDIATE");
  try {
    if (from < hi) {
      // Contentless with `contentless_delete` (`schema.ts`): rows go by rowid, text unknown. A
      // span row (`text_spans.ts`) goes once no event of its block is left: one whose block
      // holds the next event kept still nominates it.
      const next = db.prepare("SELECT min(seq) AS m FROM events WHERE seq >= ?").get(hi)?.m;
      const kept = typeof next === "number" ? Math.min(next, to) : to;
      db.prepare("DELETE FROM events_text WHERE rowid >= ? AND rowid < ?")
        .run(spanStart(from), spanStart(kept));
      db.prepare("DELETE FROM events WHERE seq >= ? AND seq < ?").run(from, hi);
      // The derived rows of the same events: attribution links, attributed fields, row counts.
      for (
        const sql of [
          "DELETE FROM attribution WHERE seq >= ? AND seq < ?",
          "DELETE FROM logged WHERE stmt >= ? AND stmt < ?",
          "DELETE FROM row_counts WHERE seq >= ? AND seq < ?",
        ]
      ) db.prepare(sql).run(from, hi);
      // By block first, the key's head (`field_keys.ts`): a range, not a walk of the table.
      db.prepare(
        `DELETE FROM fields WHERE block BETWEEN ? AND ?
          AND (block << ${FIELD_SHIFT}) + off >= ? AND (block << ${FIELD_SHIFT}) + off < ?`,
      ).run(fieldBlock(from), fieldBlock(hi - 1), from, hi);
    }
    if (hi === to) {
      tallyDropped(db, to);
      zonesDropped(db, to);
    }
    db.exec("COMMIT");
  } catch (e) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw new Error(`at seqs ${from}..${hi - 1}: ${(e as Error).message}`, { cause: e });
  }
  return hi < to;
}
