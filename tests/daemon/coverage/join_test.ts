import {
  type CoverageFinding,
  CoverageJoin,
  type CoverageLink,
} from "../../../daemon/coverage/join.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { formatRfc3339Micros } from "../../../daemon/event/time.ts";
import { assert, assertEquals } from "../../support/assert.ts";

const T = Date.UTC(2026, 11, 6, 10) * 1000;
const S = 1_000_000;
const OPTS = { waitUs: 5 * S, quietUs: 600 * S };

/** The events of both channels as the WAL and pgAudit sources store them. */
const wal = {
  row: (ts: number, xid: number, table: string): Partial<AuditEvent> => ({
    ts,
    source: "w",
    kind: "row_change",
    db: "shop",
    xid,
    object: table,
    command: "UPDATE",
  }),
  stmt: (ts: number, xid: number, table: string, session: string, start: number) => ({
    ts,
    source: "w",
    kind: "message",
    command: "STATEMENT",
    db: "shop",
    xid,
    object: table,
    role: "ada",
    session_id: session,
    statement: `update ${table} set a = 1`,
    context: { op: "UPDATE", vxid: "3/4", stmt_ts: formatRfc3339Micros(start) },
  } as Partial<AuditEvent>),
  ddl: (ts: number, statement: string): Partial<AuditEvent> => ({
    ts,
    source: "w",
    kind: "ddl",
    db: "shop",
    command: "CREATE TABLE",
    statement,
  }),
};
const log = {
  write: (ts: number, session: string, xid?: number): Partial<AuditEvent> => ({
    ts,
    source: "l",
    kind: "session",
    db: "shop",
    audit_type: "SESSION",
    class: "WRITE",
    command: "UPDATE",
    session_id: session,
    ...(xid === undefined ? {} : { xid }),
  }),
  ddl: (ts: number, statement: string): Partial<AuditEvent> => ({
    ts,
    source: "l",
    kind: "session",
    db: "shop",
    audit_type: "SESSION",
    class: "DDL",
    command: "CREATE TABLE",
    session_id: "s9",
    statement,
  }),
  other: (ts: number): Partial<AuditEvent> => ({
    ts,
    source: "l",
    kind: "session",
    db: "shop",
    audit_type: "SESSION",
    class: "READ",
    command: "SELECT",
    session_id: "s9",
  }),
};

function run(events: Partial<AuditEvent>[], join = new CoverageJoin(OPTS)) {
  const links: CoverageLink[] = [];
  const findings: CoverageFinding[] = [];
  const sink = {
    link: (l: CoverageLink) => links.push(l),
    finding: (f: CoverageFinding) => findings.push(f),
  };
  events.forEach((e, seq) => join.add(seq, { seq, ingest_ts: 0, ...e } as AuditEvent, sink));
  return { links, findings, join };
}

Deno.test("CoverageJoin links rows to their statement and the statement to its pgAudit line", () => {
  // Autocommit: the line has xid 0 (absent), logged before the commit; the WAL comes later.
  const { links, findings } = run([
    log.write(T + 100, "s1"),
    wal.row(T + 200, 7, "public.t"),
    wal.row(T + 200, 7, "public.t"),
    wal.stmt(T + 200, 7, "public.t", "s1", T),
    log.other(T + 100 * S),
  ]);
  assertEquals(links, [
    { kind: "row", from: 1, to: 3 },
    { kind: "row", from: 2, to: 3 },
    { kind: "audit", from: 3, to: 0 },
  ]);
  assertEquals(findings, []);
});

Deno.test("CoverageJoin finds a statement no pgAudit line logged, once the log moved on", () => {
  const { findings } = run([
    log.other(T),
    wal.row(T + 200, 8, "public.t"),
    wal.stmt(T + 200, 8, "public.t", "s2", T + 100),
    log.write(T + 300, "s3"), // another session's line does not join
    log.other(T + 2 * S), // not yet past the wait
  ]);
  assertEquals(findings, []);
  const later = run([
    log.other(T),
    wal.row(T + 200, 8, "public.t"),
    wal.stmt(T + 200, 8, "public.t", "s2", T + 100),
    log.other(T + 6 * S),
  ]).findings;
  assertEquals(later.map((f) => [f.kind, f.xid, f.table, f.role, f.seqs]), [
    ["gap", 8, "public.t", "ada", [2, 1]],
  ]);
});

Deno.test("CoverageJoin keeps the same session's order: a later line does not cover an earlier statement", () => {
  const { findings, links } = run([
    log.other(T),
    wal.stmt(T + 10 * S, 9, "public.t", "s4", T + 5 * S), // pgAudit off: no line
    log.write(T + 20 * S + 10, "s4"), // the next statement's line, after the first committed
    wal.stmt(T + 20 * S + 50, 10, "public.t", "s4", T + 20 * S),
    log.other(T + 60 * S),
  ]);
  assertEquals(findings.map((f) => [f.kind, f.xid]), [["gap", 9]]);
  assertEquals(links, [{ kind: "audit", from: 3, to: 2 }]);
});

Deno.test("CoverageJoin finds DDL in one channel only and a quiet channel", () => {
  const { findings } = run([
    log.other(T),
    wal.ddl(T + S, "create table a ()"),
    log.ddl(T + S, "create table b ()"),
    log.ddl(T + 2 * S, "create table c ()"),
    wal.ddl(T + 2 * S, "create table c ()"),
    wal.row(T + 3 * S, 11, "public.t"),
    log.other(T + 20 * S),
    wal.row(T + 20 * S, 12, "public.t"),
    wal.row(T + 700 * S, 13, "public.t"),
  ]);
  assertEquals(
    findings.map((f) => [f.kind, f.statement ?? f.channel]),
    [["ddl_wal_only", "create table a ()"], ["ddl_log_only", "create table b ()"], [
      "quiet",
      "log",
    ]],
  );
});

Deno.test("CoverageJoin saved and loaded at any point goes on as the one that was not", () => {
  const events = [
    log.write(T + 100, "s1"),
    wal.row(T + 200, 7, "public.t"),
    wal.row(T + 200, 7, "public.t"),
    wal.stmt(T + 200, 7, "public.t", "s1", T),
    wal.row(T + 300, 8, "public.t"),
    wal.stmt(T + 300, 8, "public.t", "s2", T + 250),
    wal.ddl(T + S, "create table a ()"),
    log.ddl(T + S, "create table b ()"),
    log.other(T + 6 * S),
    wal.row(T + 700 * S, 9, "public.t"),
  ];
  const whole = run(events);
  assert(whole.links.length === 4 && whole.findings.length === 4, JSON.stringify(whole));
  for (let at = 1; at < events.length; at++) {
    const first = run(events.slice(0, at));
    const copy = new CoverageJoin(OPTS);
    copy.load(JSON.parse(JSON.stringify(first.join.save())));
    const rest = { links: [] as CoverageLink[], findings: [] as CoverageFinding[] };
    events.slice(at).forEach((e, i) =>
      copy.add(i + at, { seq: i + at, ingest_ts: 0, ...e } as AuditEvent, {
        link: (l) => rest.links.push(l),
        finding: (f) => rest.findings.push(f),
      })
    );
    assertEquals([...first.findings, ...rest.findings], whole.findings, `split at ${at}`);
    assertEquals([...first.links, ...rest.links], whole.links, `split at ${at}`);
  }
});
