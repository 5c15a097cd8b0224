/**
 * The DDL half of the coverage join (`join.ts`): DDL the WAL's event triggers recorded against
 * the DDL pgAudit logged, matched by statement text. The WAL names every DDL command with its
 * top-level statement (`current_query()`); pgAudit logs each command with its own text, nested
 * ones (run by a function or an event trigger) under the statement id of the statement that ran
 * them. So a WAL statement is matched by any line of a log group (session and statement id), and
 * a group by any of its lines; only a group with DDL of its own is judged, never one of function
 * calls alone, and DDL on objects outside any database (which event triggers never see) is left
 * out. Memory is bounded by `max` pending entries.
 *
 * Judging runs after every event, and pending entries are in no useful order (two channels, many
 * databases, late delivery), so it keeps the least time pending in each database: while no
 * database's clocks have passed that by the shorter of the two waits, nothing can be due and the
 * entries are not walked. The cost per event is then one look per database, and a walk happens
 * only when something is due.
 */

import type { AuditEvent } from "../event/model.ts";
import type { CoverageFinding } from "./finding.ts";

/** DDL on objects outside any one database, which event triggers never see. */
const GLOBAL_DDL = /\b(DATABASE|TABLESPACE|ROLE|USER|GROUP|EVENT TRIGGER|SYSTEM)\b/;

/** DDL of one statement in one channel: WAL events of one text, or one log group. */
interface Ddl {
  db: string;
  text: string;
  /** The texts of a log group's lines, each of which may match the WAL's. */
  texts: string[];
  /** Whether it holds DDL of its own (not only function calls): judged if unmatched. */
  judge: boolean;
  ts: number;
  seqs: number[];
  command: string | undefined;
  role: string | undefined;
  table: string | undefined;
  matched: boolean;
}

/** What judging needs of the join: the channels' times and when a database is judged. */
export interface DdlJudging {
  walClock(db: string): number;
  logClock(db: string): number;
  judged(db: string, ts: number): boolean;
  waitUs: number;
  quietUs: number;
}

/** Pending DDL of both channels; see the module documentation. */
export class DdlJoin {
  readonly #max: number;
  readonly #ddl = new Map<string, Ddl>();
  /** `db|statement text` → the key of the log group holding a line of that text. */
  readonly #byText = new Map<string, string>();
  /** Per database, a time at or below that of every entry pending in it. */
  readonly #least = new Map<string, number>();
  /** Let go unjudged because the pending list was full. */
  dropped = 0;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#ddl.size;
  }

  /** A WAL `ddl` event. */
  wal(seq: number, ev: AuditEvent, db: string): void {
    if (ev.statement === undefined) return;
    const logKey = this.#byText.get(`${db}|${ev.statement}`);
    const log = logKey === undefined ? undefined : this.#ddl.get(logKey);
    if (log !== undefined) {
      log.matched = true;
      return;
    }
    this.#entry(`wal|${db}|${ev.statement}`, seq, ev, db).judge = true;
  }

  /** A pgAudit DDL or FUNCTION line; joins the group of its statement. */
  log(seq: number, ev: AuditEvent, db: string): void {
    if (ev.statement === undefined) return;
    if (ev.command !== undefined && GLOBAL_DDL.test(ev.command.toUpperCase())) return;
    const key = `log|${db}|${ev.session_id ?? ""}|${ev.statement_id ?? seq}`;
    const group = this.#entry(key, seq, ev, db);
    if (ev.class === "DDL") group.judge = true;
    if (!group.texts.includes(ev.statement) && group.texts.length < 100) {
      group.texts.push(ev.statement);
      this.#byText.set(`${db}|${ev.statement}`, key);
    }
    const wal = this.#ddl.get(`wal|${db}|${ev.statement}`);
    if (wal !== undefined) {
      wal.matched = true;
      group.matched = true;
    }
  }

  /** Judges the entries the other channel (or, when it is quiet, this one) has moved past. */
  judge(j: DdlJudging, out: (f: CoverageFinding) => void): void {
    if (!this.#maybeDue(j)) return;
    for (const [key, d] of this.#ddl) {
      const wal = key.startsWith("wal|");
      const other = wal ? j.logClock(d.db) : j.walClock(d.db);
      const mine = wal ? j.walClock(d.db) : j.logClock(d.db);
      if (!(other > d.ts + j.waitUs || mine > d.ts + j.quietUs)) continue;
      this.#drop(key, d);
      if (d.matched || !d.judge || !j.judged(d.db, d.ts)) continue;
      const f: CoverageFinding = {
        kind: wal ? "ddl_wal_only" : "ddl_log_only",
        db: d.db,
        ts: d.ts,
        seqs: d.seqs,
        statement: d.text,
      };
      if (d.command !== undefined) f.command = d.command;
      if (d.role !== undefined) f.role = d.role;
      if (d.table !== undefined) f.table = d.table;
      out(f);
    }
    this.#least.clear();
    for (const d of this.#ddl.values()) this.#lower(d.db, d.ts);
  }

  /** Whether any database's clocks passed its least pending time by the shorter wait. */
  #maybeDue(j: DdlJudging): boolean {
    const soon = Math.min(j.waitUs, j.quietUs);
    for (const [db, least] of this.#least) {
      if (j.walClock(db) > least + soon || j.logClock(db) > least + soon) return true;
    }
    return false;
  }

  #lower(db: string, ts: number): void {
    const least = this.#least.get(db);
    if (least === undefined || ts < least) this.#least.set(db, ts);
  }

  /** The pending entries as a JSON value. */
  save(): unknown {
    return { entries: [...this.#ddl], dropped: this.dropped };
  }

  /** Takes back what `save` returned (into a new instance). */
  load(state: unknown): void {
    const o = state as { entries: [string, Ddl][]; dropped: number };
    for (const [k, d] of o.entries) {
      this.#ddl.set(k, d);
      this.#lower(d.db, d.ts);
      for (const t of d.texts) this.#byText.set(`${d.db}|${t}`, k);
    }
    this.dropped = o.dropped;
  }

  /** The pending entry `key`, made when new; adds `seq` to its evidence. */
  #entry(key: string, seq: number, ev: AuditEvent, db: string): Ddl {
    let d = this.#ddl.get(key);
    if (d === undefined) {
      d = {
        db,
        text: ev.statement!,
        texts: [],
        judge: false,
        ts: ev.ts,
        seqs: [],
        command: undefined,
        role: ev.role,
        table: undefined,
        matched: false,
      };
      this.#ddl.set(key, d);
      this.#lower(db, d.ts);
      while (this.#ddl.size > this.#max) {
        const [k, old] = this.#ddl.entries().next().value!;
        this.#drop(k, old);
        this.dropped++;
      }
    }
    if (d.seqs.length < 100) d.seqs.push(seq);
    // The statement's own command comes last: nested DDL ends (and is logged) before it.
    if (ev.command !== undefined) d.command = ev.command;
    if (ev.object !== undefined) d.table = ev.object;
    if (key.startsWith("log|")) d.text = ev.statement!;
    return d;
  }

  #drop(key: string, d: Ddl): void {
    this.#ddl.delete(key);
    for (const t of d.texts) {
      if (this.#byText.get(`${d.db}|${t}`) === key) this.#byText.delete(`${d.db}|${t}`);
    }
  }
}
