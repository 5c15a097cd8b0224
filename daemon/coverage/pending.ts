/**
 * What the coverage join (`join.ts`) holds while it waits to judge: statement messages, pgAudit
 * WRITE lines and a transaction's unclaimed row changes, each kept in a list and in its
 * session's, and the one test of whether a line logged a statement. Plain data and pure
 * functions, so that the join's state saves and loads as it is.
 */

export interface Stmt {
  seq: number;
  db: string;
  session: string;
  start: number;
  commit: number;
  op: string;
  table: string;
  xid: number | undefined;
  role: string | undefined;
  addr: string | undefined;
  statement: string | undefined;
  pgauditLog: string | undefined;
  rows: number[];
}

export interface Line {
  seq: number;
  db: string;
  session: string;
  ts: number;
  command: string;
  table: string | undefined;
  xid: number | undefined;
}

/** The row changes of a WAL source's open transaction not yet claimed by a statement. */
export interface OpenRows {
  xid: number;
  byTable: Map<string, number[]>;
}

/** pgAudit's commands for each operation a statement trigger reports (COPY FROM inserts). */
const LOG_COMMANDS: Readonly<Record<string, readonly string[]>> = {
  INSERT: ["INSERT", "COPY"],
  UPDATE: ["UPDATE"],
  DELETE: ["DELETE"],
  TRUNCATE: ["TRUNCATE TABLE"],
};

/** csvlog and jsonlog print milliseconds: a line may read up to 1 ms before its statement. */
const LOG_RESOLUTION = 1000;

/** Adds a pending entry to its list and its session's. */
export function remember<T extends { seq: number; session: string }>(
  all: Map<number, T>,
  of: Map<string, Map<number, T>>,
  x: T,
): void {
  all.set(x.seq, x);
  let m = of.get(x.session);
  if (m === undefined) of.set(x.session, m = new Map());
  m.set(x.seq, x);
}

/** Removes a pending entry from its list and its session's. */
export function forget<T extends { seq: number; session: string }>(
  all: Map<number, T>,
  of: Map<string, Map<number, T>>,
  x: T,
): void {
  all.delete(x.seq);
  const m = of.get(x.session);
  m?.delete(x.seq);
  if (m?.size === 0) of.delete(x.session);
}

/** Whether pgAudit line `l` logged statement `s`; see the documentation of `join.ts`. */
export function fits(s: Stmt, l: Line): boolean {
  return s.db === l.db && s.session === l.session && s.session !== "" &&
    (LOG_COMMANDS[s.op]?.includes(l.command) ?? false) &&
    l.ts >= s.start - LOG_RESOLUTION && l.ts <= s.commit + LOG_RESOLUTION &&
    (l.table === undefined || l.table === s.table) &&
    (l.xid === undefined || s.xid === undefined || l.xid === s.xid);
}
