/**
 * The join of the two channels of one database: the WAL (row changes, the `STATEMENT` messages
 * of `pg-install`'s statement triggers, `ddl` events) and the server log (pgAudit lines). Fed
 * every stored event in seq order, it says which row changes a statement message made, which
 * pgAudit line logged that statement, and what one channel shows that the other does not.
 *
 * How the two are joined. A statement message names its session (`session_id`, csvlog's
 * `<start>.<pid>`), its statement's start (`stmt_ts`), its table and operation; a pgAudit line
 * names its session and is written after the statement started and before its transaction
 * committed. A session runs one statement at a time, so its statements and its WRITE lines come
 * in the same order in both channels: a message is joined to the first unclaimed WRITE line of
 * its session whose command is the message's operation, whose time lies between the
 * statement's start and its commit, whose table (when the line names one) is the message's and
 * whose xid (when the line has one) is the message's. The log's xid alone cannot join: pgAudit
 * logs the first write of a transaction before it has an xid (`…,3/4,0,LOG,…`), and an
 * autocommit statement never gets a line with its xid. The trigger fires after its statement,
 * so a statement message follows its row changes in the transaction: the rows of the message's
 * table since the previous message of the transaction are the statement's.
 *
 * When it judges. The channels lag differently, so nothing is judged until the other channel's
 * event time has passed the evidence by `waitUs` (or, when that channel is quiet, this
 * channel's by `quietUs`). A database is judged only once both channels have shown events of
 * it, and only for evidence from then on (a WAL source starts at its slot; the log it tails
 * may hold statements from before). Findings: `gap` (a statement message no WRITE line joined: pgAudit off in the session,
 * or the table outside `pgaudit.log`), `ddl_wal_only` / `ddl_log_only` (a DDL statement in one
 * channel only, matched by its text), `quiet` (one channel shows nothing for `quietUs` while
 * the other shows writes).
 *
 * Promises: the answer depends only on the sequence of events fed, so a rebuild from the log
 * gives the same links and findings; memory is bounded by `maxPending` entries of each kind,
 * beyond which the oldest are let go unjudged (and counted), whatever the number of events.
 */

import type { AuditEvent } from "../event/model.ts";
import { parseRfc3339Micros } from "../event/time.ts";
import { Channels } from "./channels.ts";
import { DdlJoin, type DdlJudging } from "./ddl_join.ts";
import type { CoverageFinding } from "./finding.ts";
import { fits, forget, type Line, type OpenRows, remember, type Stmt } from "./pending.ts";

export type { CoverageFinding } from "./finding.ts";

/** The `command` of the WAL source's statement messages (`plugins/wal/vigil_messages.ts`). */
export const STATEMENT_COMMAND = "STATEMENT";

/** A link between two stored events. */
export interface CoverageLink {
  /** `row`: a row change (`from`) made by a statement message (`to`); `audit`: a statement
   * message (`from`) logged by a pgAudit line (`to`). */
  kind: "row" | "audit";
  from: number;
  to: number;
}

/** Receives what the join finds. */
export interface JoinSink {
  link?(link: CoverageLink): void;
  finding?(finding: CoverageFinding): void;
}

/** Options of {@link CoverageJoin}. */
export interface JoinOptions {
  /** How far the other channel's time must pass the evidence before judging, µs. */
  waitUs: number;
  /** A channel showing nothing for this long while the other shows writes is quiet, µs. */
  quietUs: number;
  /** Most pending entries of each kind (statements, lines, DDL, open rows). */
  maxPending?: number;
}

const SAVE_VERSION = 2;

/** The join of the channels; see the module documentation. */
export class CoverageJoin {
  readonly #wait: number;
  readonly #quiet: number;
  readonly #max: number;
  readonly #ch = new Channels();
  /** Pending, in seq order (Map keeps insertion order). */
  readonly #stmts = new Map<number, Stmt>();
  readonly #lines = new Map<number, Line>();
  readonly #ddl: DdlJoin;
  /** What the DDL join asks when judging; made once, not per event. */
  readonly #ddlJudging: DdlJudging;
  readonly #open = new Map<string, OpenRows>();
  /** The pending statements and lines of each session, for the join's lookups. */
  readonly #stmtsOf = new Map<string, Map<number, Stmt>>();
  readonly #linesOf = new Map<string, Map<number, Line>>();
  /** Tables the WAL showed changes of; a log write on another table does not count. */
  readonly #tables = new Set<string>();
  /** The last line each session's TRUNCATE joined: `TRUNCATE a, b` logs one line, two messages. */
  readonly #truncated = new Map<string, { start: number; line: number }>();
  /** Let go unjudged because a pending list was full (DDL's own count aside). */
  #dropped = 0;
  /** Row changes of transactions without statement messages: not joinable. */
  unattributed = 0;

  constructor(opts: JoinOptions) {
    this.#wait = opts.waitUs;
    this.#quiet = opts.quietUs;
    this.#max = opts.maxPending ?? 50_000;
    this.#ddl = new DdlJoin(this.#max);
    this.#ddlJudging = {
      walClock: (db) => this.#ch.walClock(db),
      logClock: (db) => this.#ch.logClock(db),
      judged: (db, ts) => this.#ch.judged(db, ts),
      waitUs: this.#wait,
      quietUs: this.#quiet,
    };
  }

  /** Feeds the next stored event. */
  add(seq: number, ev: AuditEvent, sink: JoinSink): void {
    this.#ch.tick(ev.source, ev.ts);
    const db = ev.db;
    if (db !== undefined) {
      if (ev.kind === "row_change" || ev.kind === "ddl" || isStatement(ev)) {
        this.#ch.heard(db, ev.source, "commits", ev.ts);
      } else if (ev.audit_type !== undefined || ev.kind === "auth") {
        this.#ch.heard(db, ev.source, "log", ev.ts);
      }
      if (ev.kind === "row_change") this.#row(seq, ev, db);
      else if (isStatement(ev)) this.#statement(seq, ev, db, sink);
      else if (ev.kind === "ddl") this.#ddl.wal(seq, ev, db);
      else if (ev.audit_type !== undefined && ev.class === "WRITE") this.#line(seq, ev, db, sink);
      else if (ev.audit_type !== undefined && (ev.class === "DDL" || ev.class === "FUNCTION")) {
        this.#ddl.log(seq, ev, db);
      }
    }
    this.#judge(sink);
  }

  /** Judges everything pending as if both channels had moved on: for tests and `vigil detect`. */
  flush(sink: JoinSink): void {
    this.#ch.end();
    this.#judge(sink);
  }

  /** Entries let go unjudged because a pending list was full. */
  get dropped(): number {
    return this.#dropped + this.#ddl.dropped;
  }

  /** Entries pending, for status and tests. */
  get pending(): number {
    return this.#stmts.size + this.#lines.size + this.#ddl.size;
  }

  #row(seq: number, ev: AuditEvent, db: string): void {
    if (ev.xid === undefined || ev.object === undefined) return;
    this.#ch.wrote(db, "commits", ev.ts);
    let open = this.#open.get(ev.source);
    if (open === undefined || open.xid !== ev.xid) {
      if (open !== undefined) this.#close(open);
      open = { xid: ev.xid, byTable: new Map() };
      this.#open.set(ev.source, open);
    }
    if (this.#tables.size < this.#max) this.#tables.add(ev.object);
    let rows = open.byTable.get(ev.object);
    if (rows === undefined) open.byTable.set(ev.object, rows = []);
    if (rows.length < this.#max) rows.push(seq);
    else this.#dropped++;
  }

  #close(open: OpenRows): void {
    for (const rows of open.byTable.values()) this.unattributed += rows.length;
  }

  #statement(seq: number, ev: AuditEvent, db: string, sink: JoinSink): void {
    const c = ev.context!;
    const op = typeof c.op === "string" ? c.op : "";
    let start = ev.ts;
    if (typeof c.stmt_ts === "string") {
      try {
        start = parseRfc3339Micros(c.stmt_ts);
      } catch {
        // An unreadable start leaves the commit time: a later bound, still a sound one.
      }
    }
    const table = ev.object ?? "";
    const s: Stmt = {
      seq,
      db,
      session: ev.session_id ?? "",
      start,
      commit: ev.ts,
      op,
      table,
      xid: ev.xid,
      role: ev.role,
      addr: ev.client_addr,
      statement: ev.statement,
      pgauditLog: typeof c.pgaudit_log === "string" ? c.pgaudit_log : undefined,
      rows: [],
    };
    this.#ch.wrote(db, "commits", ev.ts);
    const open = this.#open.get(ev.source);
    if (open !== undefined && open.xid === ev.xid) {
      const rows = open.byTable.get(table);
      if (rows !== undefined) {
        open.byTable.delete(table);
        s.rows = rows;
        for (const r of rows) sink.link?.({ kind: "row", from: r, to: seq });
      }
    } else if (open !== undefined) {
      this.#close(open);
      this.#open.delete(ev.source);
    }
    if (s.session === "") return;
    for (const line of this.#linesOf.get(s.session)?.values() ?? []) {
      if (fits(s, line)) {
        forget(this.#lines, this.#linesOf, line);
        this.#joined(s, line.seq, sink);
        return;
      }
    }
    const t = this.#truncated.get(s.session);
    if (s.op === "TRUNCATE" && t !== undefined && t.start === s.start) {
      sink.link?.({ kind: "audit", from: seq, to: t.line });
      return;
    }
    remember(this.#stmts, this.#stmtsOf, s);
    this.#bound(this.#stmts, this.#stmtsOf);
  }

  #line(seq: number, ev: AuditEvent, db: string, sink: JoinSink): void {
    if (ev.object === undefined || this.#tables.has(ev.object)) {
      this.#ch.wrote(db, "log", ev.ts);
    }
    const line: Line = {
      seq,
      db,
      session: ev.session_id ?? "",
      ts: ev.ts,
      command: ev.command ?? "",
      table: ev.object,
      xid: ev.xid,
    };
    if (line.session === "") return;
    for (const s of this.#stmtsOf.get(line.session)?.values() ?? []) {
      if (fits(s, line)) {
        forget(this.#stmts, this.#stmtsOf, s);
        this.#joined(s, seq, sink);
        if (s.op !== "TRUNCATE") return;
        // The other tables of the same TRUNCATE, already waiting.
        for (const o of this.#stmtsOf.get(line.session)?.values() ?? []) {
          if (o.op === "TRUNCATE" && o.start === s.start) {
            forget(this.#stmts, this.#stmtsOf, o);
            sink.link?.({ kind: "audit", from: o.seq, to: seq });
          }
        }
        return;
      }
    }
    remember(this.#lines, this.#linesOf, line);
    this.#bound(this.#lines, this.#linesOf);
  }

  #joined(s: Stmt, line: number, sink: JoinSink): void {
    sink.link?.({ kind: "audit", from: s.seq, to: line });
    if (s.op !== "TRUNCATE") return;
    this.#truncated.delete(s.session); // re-inserted last: the map stays in age order
    this.#truncated.set(s.session, { start: s.start, line });
    if (this.#truncated.size > this.#max) {
      this.#truncated.delete(this.#truncated.keys().next().value!);
    }
  }

  /** Lets the oldest pending entries go, unjudged, past `maxPending`. */
  #bound<T extends { seq: number; session: string }>(
    all: Map<number, T>,
    of: Map<string, Map<number, T>>,
  ): void {
    while (all.size > this.#max) {
      forget(all, of, all.values().next().value!);
      this.#dropped++;
    }
  }

  #judge(sink: JoinSink): void {
    for (const s of this.#stmts.values()) {
      const log = this.#ch.logClock(s.db);
      const wal = this.#ch.walClock(s.db);
      if (!(log > s.commit + this.#wait || wal > s.commit + this.#quiet)) break;
      forget(this.#stmts, this.#stmtsOf, s);
      if (!this.#ch.judged(s.db, s.commit)) continue;
      const f: CoverageFinding = {
        kind: "gap",
        db: s.db,
        ts: s.commit,
        seqs: [s.seq, ...s.rows.slice(0, 99)],
        table: s.table,
        command: s.op,
      };
      if (s.role !== undefined) f.role = s.role;
      if (s.addr !== undefined) f.client_addr = s.addr;
      if (s.xid !== undefined) f.xid = s.xid;
      if (s.statement !== undefined) f.statement = s.statement;
      if (s.pgauditLog !== undefined) f.pgauditLog = s.pgauditLog;
      sink.finding?.(f);
    }
    for (const l of this.#lines.values()) {
      if (
        !(this.#ch.walClock(l.db) > l.ts + this.#wait ||
          this.#ch.logClock(l.db) > l.ts + this.#quiet)
      ) {
        break;
      }
      // A write no statement message claimed: a table without the trigger; not a finding.
      forget(this.#lines, this.#linesOf, l);
    }
    this.#ddl.judge(this.#ddlJudging, (f) => sink.finding?.(f));
    this.#ch.judgeQuiet(this.#quiet, (f) => sink.finding?.(f));
  }

  /** The state as a JSON value: bounded by `maxPending` entries of each kind. */
  save(): unknown {
    return {
      v: SAVE_VERSION,
      channels: this.#ch.save(),
      truncated: [...this.#truncated],
      tables: [...this.#tables],
      stmts: [...this.#stmts.values()],
      lines: [...this.#lines.values()],
      ddl: this.#ddl.save(),
      open: [...this.#open].map(([src, o]) => [src, o.xid, [...o.byTable]]),
      dropped: this.#dropped,
      unattributed: this.unattributed,
    };
  }

  /** Takes back what `save` returned; throws SyntaxError for anything else. */
  load(state: unknown): void {
    // deno-lint-ignore no-explicit-any
    const o = state as any;
    if (typeof o !== "object" || o === null || o.v !== SAVE_VERSION) {
      throw new SyntaxError("Cannot read coverage state: not version " + SAVE_VERSION);
    }
    try {
      this.#ch.load(o.channels);
      for (const [k, v] of o.truncated) this.#truncated.set(k, v);
      for (const s of o.stmts) remember(this.#stmts, this.#stmtsOf, s);
      for (const l of o.lines) remember(this.#lines, this.#linesOf, l);
      for (const t of o.tables) this.#tables.add(t);
      this.#ddl.load(o.ddl);
      for (const [src, xid, tables] of o.open) {
        this.#open.set(src, { xid, byTable: new Map(tables) });
      }
      this.#dropped = o.dropped;
      this.unattributed = o.unattributed;
    } catch (e) {
      throw new SyntaxError(`Cannot read coverage state: ${(e as Error).message}`);
    }
  }
}

/** A statement message of the WAL source. */
export function isStatement(ev: AuditEvent): boolean {
  return ev.kind === "message" && ev.command === STATEMENT_COMMAND && ev.context !== undefined;
}
