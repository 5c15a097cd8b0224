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
import { CoverageJoin, type CoverageLink } from "../coverage/join.ts";
import type { AuditEvent } from "../event/model.ts";
import { fieldBlock, fieldKey, fieldOffset } from "./field_keys.ts";
import { ATTRIBUTED_FIELDS, attributedValue } from "./filter.ts";

/** Keys in `meta`: the join's pending state, and the last seq fed into that state. */
const STATE_KEY = "attribution_join";
const STATE_SEQ_KEY = "attribution_seq";
/**
 * How long the index's join waits for the other channel: longer than detection's default, since
 * a link found late is still worth having and nothing is alarmed here.
 */
const WAIT_US = 5 * 60e6;
/** Pending entries of each kind: a statement whose line comes later than this many is unlinked. */
const MAX_PENDING = 20_000;
/**
 * Events fed between two saves of the join's state. Saving it with every batch cost more than
 * indexing the batch; after a crash, the feeder feeds the join again from the saved seq
 * (`EventIndex.linksFrom()`), and links and fields written twice are ignored.
 */
const SAVE_EVERY = 50_000;

/** The links of one index database; use inside `EventIndex.add()`'s transaction. */
export class AttributionLinks {
  readonly #db: DatabaseSync;
  #join: CoverageJoin | null = null;
  /** The last seq fed into the join in memory, and into the saved state. */
  #fed = -1;
  #saved = -1;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** The last seq the join has taken in: the feeder feeds it again from the next one. */
  fedThrough(): number {
    this.#join ??= this.#load();
    return this.#fed;
  }

  /**
   * Feeds events to the join (those it has not taken in yet) and stores the links, the
   * attributed filter fields of each event (its own, and a row change's statement's) and, every
   * {@link SAVE_EVERY} events, the join's state. Returns the `fields` rows to insert as flat
   * (block, key, offset) triples (`field_keys.ts`); the caller inserts them with `INSERT OR IGNORE`.
   */
  add(records: readonly { seq: number; event: AuditEvent }[]): number[] {
    const join = this.#join ??= this.#load();
    const fields: number[] = [];
    const addFields = (ev: AuditEvent, seq: number): void => {
      for (const name of ATTRIBUTED_FIELDS) {
        const v = attributedValue(ev, name);
        if (v !== undefined) fields.push(fieldBlock(seq), fieldKey(name, v), fieldOffset(seq));
      }
    };
    const links: CoverageLink[] = [];
    const sink = { link: (l: CoverageLink) => links.push(l) };
    const rows = this.#db.prepare("INSERT OR IGNORE INTO attribution (seq, stmt) VALUES (?, ?)");
    const lines = this.#db.prepare("INSERT OR IGNORE INTO logged (stmt, line) VALUES (?, ?)");
    for (const r of records) {
      if (r.seq <= this.#fed) continue;
      this.#fed = r.seq;
      addFields(r.event, r.seq);
      join.add(r.seq, r.event, sink);
      if (links.length === 0) continue;
      // A row link is made as its statement message is fed: that is `r`.
      for (const l of links) {
        if (l.kind === "row") {
          rows.run(l.from, l.to);
          addFields(r.event, l.from);
        } else lines.run(l.from, l.to);
      }
      links.length = 0;
    }
    if (this.#fed - this.#saved >= SAVE_EVERY) this.save();
    return fields;
  }

  /** Saves the join's state (inside a transaction of the caller, or alone). */
  save(): void {
    if (this.#join === null || this.#fed === this.#saved) return;
    const put = this.#db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
    put.run(STATE_KEY, JSON.stringify(this.#join.save()));
    put.run(STATE_SEQ_KEY, String(this.#fed));
    this.#saved = this.#fed;
  }

  /** Forgets the join held in memory: after a reset, or a rolled-back `add()`. */
  forget(): void {
    this.#join = null;
  }

  #load(): CoverageJoin {
    const join = new CoverageJoin({ waitUs: WAIT_US, quietUs: WAIT_US, maxPending: MAX_PENDING });
    const get = this.#db.prepare("SELECT value FROM meta WHERE key = ?");
    const state = get.get(STATE_KEY);
    const seq = get.get(STATE_SEQ_KEY);
    if (state !== undefined && seq !== undefined) {
      join.load(JSON.parse(String(state.value)));
      this.#fed = this.#saved = Number(seq.value);
    } else this.#fed = this.#saved = -1;
    return join;
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
