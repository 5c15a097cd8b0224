/**
 * The derived search index: a SQLite database beside the log that tells which seqs may match a
 * search, for the CLI and the web UI, without reading segments. It holds no copy of any event,
 * nor of its text: the events themselves are read from the log by seq and tested there
 * (`search.ts` puts the two together). Without text in the filter it answers exactly (but for
 * rare hash collisions of attributed fields, see `field_keys.ts`); with text, it nominates every
 * event whose text holds the tokens' trigrams, a superset the log narrows (`schema.ts`).
 *
 * The log is the truth. The index may lag it, lose its tail in a crash (it runs with
 * `synchronous = NORMAL`) or be deleted; the feeder then re-adds from `lastSeq() + 1`, and
 * `add()` ignores events it already holds, so re-feeding an overlap is harmless. One process
 * writes; any number read at the same time through WAL (`readonly: true`). `untrusted()` names
 * the seqs whose rows were changed or removed behind `add()`'s back (`tally.ts`).
 *
 * @example
 * ```ts
 * const index = EventIndex.open(indexPath(dataDir));
 * index.add([{ seq: ev.seq, event: ev }]);
 * const seqs = index.seqs({ role: "alice", text: "drop table", order: "desc", limit: 50 });
 * index.close();
 * ```
 */

import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { type CompiledFilter, compileFilter, type EventFilter } from "./filter.ts";
import { countSql, type Drive, textMatch } from "./filter_sql.ts";
import { rowWalk, textWalk } from "./walk.ts";
import { chooseDrive } from "./drive.ts";
import { endBulkFill, recreate, startBulkFill } from "./schema.ts";
import { openIndexDb, type OpenIndexOptions } from "./index_db.ts";
import { type Attribution, AttributionLinks, attributionOf } from "./links.ts";
import { NameIds } from "./names.ts";
import { dropRowsBefore } from "./drop.ts";
import type { ColumnStrings, IndexColumns } from "./index_columns.ts";
import {
  addColumns,
  addRows,
  type FedLinks,
  type IndexRecord,
  type RowWriter,
} from "./index_rows.ts";
import type { LinkState } from "./link_feed.ts";
import { RowInserts } from "./row_inserts.ts";
import { firstSeq, type SeqRange, untrustedRanges } from "./tally.ts";
import { splitByTime } from "./zones.ts";

export { IndexUnavailableError, type OpenIndexOptions } from "./index_db.ts";
export type { FedLinks, IndexRecord } from "./index_rows.ts";

/** File name of the index inside the data directory. */
export const INDEX_FILE = "index.sqlite";

/** Path of the index of a data directory. */
export function indexPath(dataDir: string): string {
  return join(dataDir, INDEX_FILE);
}

/**
 * Seqs `dropBefore` drops per transaction: a few tens of ms of the writer's time, most of it
 * the full-text table's deletes (~20 µs a row under load).
 */
const DROP_LIMIT = 4096;

/**
 * Helper threads SQLite may sort with while a bulk fill ends (`PRAGMA threads`): the B-tree
 * indexes are built by sorting every row's key, on the writer's thread alone by default. Building
 * two such indexes over 30M rows took 42.3–43.9 s alone and 25.7 s with two helpers (a sort
 * larger than the page cache is cut in runs, and helpers sort runs while the writer reads on).
 */
const BULK_SORT_THREADS = 2;

export class EventIndex {
  readonly path: string;
  readonly readonly: boolean;
  /** True when open() found an index of another layout and emptied it: feed from the start. */
  readonly rebuilt: boolean;
  #db: DatabaseSync;
  #drive: "auto" | Drive;
  #inserts: RowInserts;
  #names: NameIds;
  #links: AttributionLinks;
  #writer: RowWriter;

  private constructor(
    path: string,
    db: DatabaseSync,
    opts: { readonly: boolean; rebuilt: boolean; drive: "auto" | Drive },
  ) {
    const { readonly, rebuilt } = opts;
    this.path = path;
    this.#db = db;
    this.#names = new NameIds(db);
    this.#inserts = new RowInserts(db);
    this.#links = new AttributionLinks(db, this.#inserts);
    this.#writer = {
      db,
      names: this.#names,
      inserts: this.#inserts,
      links: this.#links,
      lastSeq: () => this.lastSeq(),
    };
    this.#drive = opts.drive;
    this.readonly = readonly;
    this.rebuilt = rebuilt;
  }

  /**
   * Opens (a writer creates) the index at `path`. A writer that finds another schema version
   * drops everything and sets `rebuilt`. A reader throws IndexUnavailableError when the file is
   * missing or of another version.
   */
  static open(path: string, options: OpenIndexOptions = {}): EventIndex {
    const { db, readonly, rebuilt } = openIndexDb(path, options);
    return new EventIndex(path, db, { readonly, rebuilt, drive: options.drive ?? "auto" });
  }

  #writable(what: string): void {
    if (this.readonly) {
      throw new Error(`Cannot ${what} search index ${this.path}: it is open read-only`);
    }
  }

  /**
   * Indexes events in one transaction (`index_rows.ts`). A `seq` already indexed (or repeated
   * in `records`) is skipped, so feeding an overlap after a crash is harmless. Returns how many
   * events were new.
   */
  add(records: readonly IndexRecord[]): number {
    if (records.length === 0) return 0;
    const what = `events ${records[0]!.seq}..${records[records.length - 1]!.seq}`;
    return this.#write(what, () => addRows(this.#writer, records));
  }

  /**
   * Indexes batches prepared beside the writer (`log_batches.ts`) in one transaction: their
   * events must come right after `lastSeq()`, in order. Returns how many they held.
   */
  addPrepared(
    batches: readonly { cols: IndexColumns; fed: FedLinks }[],
    strings: ColumnStrings,
  ): number {
    const seqs = batches.flatMap((b) => b.cols.seqs.length ? [b.cols.seqs] : []);
    const what = seqs.length === 0
      ? "the attribution join's state"
      : `events ${seqs[0]![0]}..${seqs.at(-1)!.at(-1)}`;
    return this.#write(what, () => {
      let n = 0;
      for (const b of batches) n += addColumns(this.#writer, b.cols, strings, b.fed);
      return n;
    });
  }

  #write(what: string, fn: () => number): number {
    this.#writable("add to");
    const db = this.#db;
    db.exec("BEGIN IMMEDIATE");
    try {
      const n = fn();
      db.exec("COMMIT");
      return n;
    } catch (e) {
      if (db.isTransaction) db.exec("ROLLBACK");
      this.#names.forget();
      this.#links.forget();
      throw new Error(`Cannot add ${what} to search index ${this.path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /**
   * The attribution join's state as saved now (see `links.ts`), for a join beside the writer
   * to go on from; the batches it feeds come back through `add()`.
   */
  linkState(): LinkState {
    this.#writable("save the join of");
    return this.#links.state();
  }

  /**
   * The seq the index is complete up to: its largest indexed `seq`, or, when retention dropped
   * every row it held (`dropBefore`), the seq before the log's retained start; -1 when empty.
   */
  lastSeq(): number {
    const row = this.#db.prepare("SELECT max(seq) AS m FROM events").get();
    const m = row?.m;
    const max = typeof m === "number" ? m : -1;
    return Math.max(max, (firstSeq(this.#db) ?? 0) - 1);
  }

  /**
   * Drops the rows of seqs below `to`, which retention deleted from the log, at most `limit`
   * seqs' worth in one transaction (a writer blocks while it runs); their trigrams go with
   * them and the tally forgets their blocks, so what is left is still vouched for. Returns
   * whether rows below `to` remain (call again, yielding between). The index then claims seqs
   * from `to` only: searches read anything below it from the log, which holds none of it.
   */
  dropBefore(to: number, opts: { limit?: number } = {}): boolean {
    this.#writable("drop rows from");
    try {
      return dropRowsBefore(this.#db, to, opts.limit ?? DROP_LIMIT);
    } catch (e) {
      throw new Error(
        `Cannot drop events below ${to} from search index ${this.path}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  /**
   * The seqs the index holds whole: from the lowest seq ever added to `lastSeq()`, or null when
   * it has never held a row. Seqs outside it are not indexed; inside it, `untrusted()` says
   * where rows were changed by hand.
   */
  claims(): { first: number; last: number } | null {
    const first = firstSeq(this.#db);
    const last = this.lastSeq();
    return first === undefined || last < first ? null : { first, last };
  }

  /**
   * The parts of [from, to) the index claims (see `claims()`) but cannot vouch for, because
   * rows there were deleted or edited since `add()` wrote them; ascending, merged, each at most
   * a tally block wider than the damage. Searches read those seqs from the log instead.
   */
  untrusted(from: number, to: number): SeqRange[] {
    const claims = this.claims();
    if (claims === null) return [];
    const lo = Math.max(from, claims.first), hi = Math.min(to, claims.last + 1);
    return untrustedRanges(this.#db, [lo, hi], claims);
  }

  /**
   * The seqs of the events the index nominates (every match; with text, maybe more: see the
   * module's doc), in the filter's order and limit.
   */
  seqs(filter: EventFilter): number[] {
    return Array.from(this.iterateSeqs(filter));
  }

  /**
   * The seqs of nominated events one at a time, for long results; stop early by breaking out
   * (or `return()`), which ends the statement.
   */
  *iterateSeqs(filter: EventFilter): Generator<number, void, undefined> {
    const f = compileFilter(filter);
    let left = f.limit ?? Infinity;
    for (const part of splitByTime(this.#db, f)) {
      if (left <= 0) return;
      const p = left === Infinity ? part : { ...part, limit: left };
      const fts = this.#driveFor(p) === "text" ? textMatch(p) : undefined;
      const walk = fts === undefined ? rowWalk(this.#db, p) : textWalk(this.#db, p, fts);
      for (const seq of walk) {
        yield seq;
        if (--left <= 0) return;
      }
    }
  }

  #driveFor(f: CompiledFilter): Drive {
    return this.#drive === "auto" ? chooseDrive(this.#db, f) : this.#drive;
  }

  /**
   * How many events the index nominates, regardless of the filter's limit: exact without text,
   * an upper bound with it.
   */
  count(filter: EventFilter): number {
    let n = 0;
    for (const part of splitByTime(this.#db, compileFilter(filter))) {
      const { sql, params } = countSql(part);
      n += Number(this.#db.prepare(sql).get(...params)?.n ?? 0);
    }
    return n;
  }

  /**
   * Runs `fill` (which adds many events) without the secondary indexes and without merging the
   * full-text table's segments, then builds each index and merges once: several times faster
   * than keeping them up to date row by row. Searches meanwhile give
   * the same answers, more slowly. For `vigil reindex`, not for a daemon's live feed.
   */
  async bulkFill<T>(fill: () => Promise<T>): Promise<T> {
    this.#writable("fill");
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      startBulkFill(this.#db);
      this.#db.exec("COMMIT");
    } catch (e) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw e;
    }
    this.#inserts.clear();
    try {
      return await fill();
    } finally {
      // The Worker that read the log is done: SQLite's sorts may use the other core.
      this.#db.exec(`PRAGMA threads = ${BULK_SORT_THREADS}`);
      try {
        this.#db.exec("BEGIN IMMEDIATE");
        endBulkFill(this.#db);
        this.#db.exec("COMMIT");
      } finally {
        this.#db.exec("PRAGMA threads = 0");
      }
      this.#inserts.clear();
    }
  }

  /** Drops every indexed event, for a full re-index from the log. */
  reset(): void {
    this.#writable("reset");
    const db = this.#db;
    db.exec("BEGIN IMMEDIATE");
    try {
      recreate(db);
      db.exec("COMMIT");
    } catch (e) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw new Error(`Cannot reset search index ${this.path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    // Statements prepared against the dropped tables are stale, and so are the ids of names.
    this.#inserts.clear();
    this.#names.forget();
    this.#links.forget();
  }

  /**
   * The last seq the attribution join has taken in (`links.ts`); the feeder adds the events
   * after it up to `lastSeq()` again (`add()` gives the join those, and skips their rows).
   */
  linksFrom(): number {
    return this.#links.fedThrough();
  }

  /** The statement, pgAudit line and row changes linked to `seq` (see `links.ts`). */
  attribution(seq: number, rowLimit = 100): Attribution {
    return attributionOf(this.#db, seq, rowLimit);
  }

  /** Closes the database; safe to call twice. */
  close(): void {
    if (!this.#db.isOpen) return;
    // Keeps the planner's statistics current at little cost; readers cannot write them.
    if (!this.readonly) {
      this.#links.save();
      this.#db.exec("PRAGMA optimize");
    }
    this.#db.close();
  }
}
