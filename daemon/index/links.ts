/**
 * Attribution links in the search index: which statement message of the WAL made each row
 * change, and which pgAudit line logged each statement — the join of `daemon/coverage/join.ts`
 * run over the events as they are indexed. Derived like the rest of the index: written in the
 * same transaction as the rows of the events that gave them, with the join's pending state (in
 * `meta`), so a crash or a re-feed never links twice and `vigil reindex` rebuilds the same links.
 *
 * The link makes attribution possible with only the WAL source (role, client, application,
 * session and statement come from the statement message) and richer with pgAudit joined (the
 * statement's parameters and row count are on its line).
 */

import type { DatabaseSync } from "node:sqlite";
import type { AuditEvent } from "../event/model.ts";
import { LinkFeed, type LinkRows, type LinkState } from "./link_feed.ts";
import type { RowInserts, RowShape } from "./row_inserts.ts";

/** Keys in `meta`: the join's pending state, and the last seq fed into that state. */
const STATE_KEY = "attribution_join";
const STATE_SEQ_KEY = "attribution_seq";
/**
 * Events fed between two saves of the join's state. Saving it with every batch cost more than
 * indexing the batch; after a crash, the feeder feeds the join again from the saved seq
 * (`EventIndex.linksFrom()`), and links and fields written twice are ignored.
 */
export const SAVE_EVERY = 50_000;

const ROWS: RowShape = { table: "attribution", columns: "seq, stmt", width: 2, or: "OR IGNORE" };
const LINES: RowShape = { table: "logged", columns: "stmt, line", width: 2, or: "OR IGNORE" };

/** The links of one index database; use inside `EventIndex.add()`'s transaction. */
export class AttributionLinks {
  readonly #db: DatabaseSync;
  readonly #inserts: RowInserts;
  #feed: LinkFeed | null = null;
  /** The last seq fed into the saved state. */
  #saved = -1;
  /** `fields` rows `addFed()` holds until the state that covers them comes. */
  #held: number[] = [];

  constructor(db: DatabaseSync, inserts: RowInserts) {
    this.#db = db;
    this.#inserts = inserts;
  }

  /** The last seq the join has taken in: the feeder feeds it again from the next one. */
  fedThrough(): number {
    this.#feed ??= this.#load();
    return this.#feed.fed;
  }

  /**
   * Feeds events to the join (those it has not taken in yet) and stores the links, the
   * attributed filter fields of each event (its own, and a row change's statement's) and, every
   * {@link SAVE_EVERY} events, the join's state. Returns the `fields` rows to insert as flat
   * (block, key, offset) triples (`field_keys.ts`); the caller inserts them with `INSERT OR IGNORE`.
   */
  add(records: readonly { seq: number; event: AuditEvent }[]): number[] {
    const feed = this.#feed ??= this.#load();
    const got = this.#store(feed.feed(records));
    if (feed.fed - this.#saved >= SAVE_EVERY) this.save();
    return got;
  }

  /**
   * Stores what a join of its own fed beside the writer (`log_batches_worker.ts`) found, and its
   * state when given; returns the `fields` rows to insert as `add()` does: none until a state
   * comes, then every row held since the last. The Worker sends its state at the end of a block
   * of `fields` rows, so a block's rows go in at once, in key order after the blocks before them,
   * which SQLite appends. A crash loses only rows of events after the saved state, which the
   * feeder feeds the join again (`fedThrough()`). The join held here is forgotten: the next
   * `add()` starts from the saved state.
   */
  addFed(rows: LinkRows, state?: LinkState): number[] {
    this.#feed = null;
    const fields = this.#store(rows);
    if (!state) {
      for (const v of fields) this.#held.push(v);
      return [];
    }
    this.#put(state);
    const got = this.#held.length === 0 ? fields : this.#held.concat(fields);
    this.#held = [];
    return got;
  }

  /**
   * The join's state as saved now, for a join fed elsewhere to go on from (inside a transaction
   * of the caller, or alone).
   */
  state(): LinkState {
    this.save();
    const feed = this.#feed ??= this.#load();
    return feed.save();
  }

  #store(rows: LinkRows): number[] {
    this.#inserts.insert(ROWS, rows.rows);
    this.#inserts.insert(LINES, rows.lines);
    return rows.fields;
  }

  /** Saves the join's state (inside a transaction of the caller, or alone). */
  save(): void {
    if (this.#feed === null || this.#feed.fed === this.#saved) return;
    this.#put(this.#feed.save());
  }

  #put(s: LinkState): void {
    const put = this.#db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
    put.run(STATE_KEY, JSON.stringify(s.state));
    put.run(STATE_SEQ_KEY, String(s.seq));
    this.#saved = s.seq;
  }

  /** Forgets the join and rows held in memory: after a reset, or a rolled-back `add()`. */
  forget(): void {
    this.#feed = null;
    this.#held = [];
  }

  #load(): LinkFeed {
    const get = this.#db.prepare("SELECT value FROM meta WHERE key = ?");
    const state = get.get(STATE_KEY);
    const seq = get.get(STATE_SEQ_KEY);
    if (state !== undefined && seq !== undefined) {
      this.#saved = Number(seq.value);
      return new LinkFeed({ state: JSON.parse(String(state.value)), seq: this.#saved });
    }
    this.#saved = -1;
    return new LinkFeed();
  }
}

/** What the index knows of an event's attribution; seqs of other events, read from the log. */
export interface Attribution {
  /** For a row change: the statement message that made it. */
  statement?: number;
  /** For a statement message (or a row change, through its statement): its pgAudit line. */
  line?: number;
  /** For a statement message: its row changes, at most the limit asked for. */
  rows?: number[];
}

/** The attribution of `seq` in the index database `db`. */
export function attributionOf(db: DatabaseSync, seq: number, rowLimit: number): Attribution {
  const out: Attribution = {};
  const stmtRow = db.prepare("SELECT stmt FROM attribution WHERE seq = ?").get(seq);
  const stmt = stmtRow === undefined ? seq : Number(stmtRow.stmt);
  if (stmtRow !== undefined) out.statement = stmt;
  const line = db.prepare("SELECT line FROM logged WHERE stmt = ?").get(stmt);
  if (line !== undefined) out.line = Number(line.line);
  if (stmtRow === undefined) {
    const rows = db.prepare("SELECT seq FROM attribution WHERE stmt = ? ORDER BY seq LIMIT ?")
      .all(seq, rowLimit).map((r) => Number(r.seq));
    if (rows.length > 0) out.rows = rows;
  }
  return out;
}
