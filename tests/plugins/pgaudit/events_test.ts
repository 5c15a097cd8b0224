import { CsvLogDecoder, csvLogRecord } from "../../../plugins/pgaudit/csvlog.ts";
import { checkEventOptions, type LogEvent, logEvent } from "../../../plugins/pgaudit/events.ts";
import type { LogRecord } from "../../../plugins/pgaudit/record.ts";
import { StderrLogDecoder } from "../../../plugins/pgaudit/stderr.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "../../support/assert.ts";
import { auditMessage, BUILD_PREFIX, type Built, bytes, csvRow, stderrEntry } from "./_build.ts";

const OPTS = { source: "billing-log", file: "postgresql.csv", clock: () => 42 };
const TS = 1795456800123000; // 2026-11-23 18:00:00.123 UTC

function csv(b: Built, timezone?: string): LogEvent | undefined {
  const out: LogRecord[] = [];
  const d = new CsvLogDecoder();
  d.push(bytes(csvRow(b)), (r) => out.push(csvLogRecord(r)));
  d.end((r) => out.push(csvLogRecord(r)));
  return logEvent(out[0]!, timezone === undefined ? OPTS : { ...OPTS, timezone });
}

function stderr(text: string): (LogEvent | undefined)[] {
  const out: LogRecord[] = [];
  const d = new StderrLogDecoder({ logLinePrefix: BUILD_PREFIX });
  d.push(bytes(text), (r) => out.push(r));
  d.end((r) => out.push(r));
  return out.map((r) => logEvent(r, OPTS));
}

Deno.test("logEvent() makes a session event of a pgAudit line, with every field", () => {
  const e = csv({
    message: auditMessage("select $1, $2", ["a,b", null]),
    host: "10.1.2.3",
    port: 50000,
    xid: 725,
    app: "billing",
  })!;
  assertEquals(e.event, {
    ts: TS,
    source: "billing-log",
    kind: "session",
    db: "shop",
    role: "ada",
    client_addr: "10.1.2.3",
    application_name: "billing",
    session_id: "6b048ec8.78d7",
    pid: 4242,
    xid: 725,
    audit_type: "SESSION",
    statement_id: 1,
    substatement_id: 1,
    class: "READ",
    command: "SELECT",
    statement: "select $1, $2",
    params: ["a,b", null],
  });
  assertEquals([e.lineNum, e.clientPort, e.vxid], [7, 50000, "3/14"]);
});

Deno.test("logEvent() keeps pgAudit's row count (log_rows) as rows", () => {
  const e = csv({ message: "AUDIT: SESSION,1,1,WRITE,UPDATE,,,update t set a = 1,<none>,42" })!;
  assertEquals([e.event.command, e.event.rows], ["UPDATE", 42]);
  assertEquals(csv({ message: auditMessage("select 1") })!.event.rows, undefined);
});

Deno.test("logEvent() makes an object event with schema and object", () => {
  const e = csv({
    message: 'AUDIT: OBJECT,3,1,WRITE,UPDATE,TABLE,"public.""T,1""",update x,<none>',
  })!;
  assertEquals([e.event.kind, e.event.schema, e.event.object, e.event.object_type], [
    "object",
    "public",
    'public."T,1"',
    "TABLE",
  ]);
});

Deno.test("logEvent() makes auth events of connections, disconnections and failed logins", () => {
  const c = csv({
    message: "connection authorized: user=ada database=shop application_name=psql",
  })!;
  assertEquals([c.event.kind, c.event.command, c.event.role], ["auth", "CONNECT", "ada"]);
  const d = csv({ message: "disconnection: session time: 0:00:01.000 user=ada database=shop" })!;
  assertEquals([d.event.kind, d.event.command], ["auth", "DISCONNECT"]);
  const f = csv({
    severity: "FATAL",
    sqlstate: "28P01",
    message: 'password authentication failed for user "mallory"',
    detail: 'Role "mallory" does not exist.',
    user: "mallory",
  })!;
  assertEquals([f.event.kind, f.event.command, f.event.sqlstate, f.event.role], [
    "auth",
    "CONNECT",
    "28P01",
    "mallory",
  ]);
  assertEquals(
    f.event.error,
    'password authentication failed for user "mallory"\nDETAIL:  Role "mallory" does not exist.',
  );
});

Deno.test("logEvent() infers a failed login's SQLSTATE when the stderr prefix has no %e", () => {
  const [e] = stderr(stderrEntry({
    severity: "FATAL",
    message: 'password authentication failed for user "eve"',
    user: "[unknown]",
  }));
  assertEquals([e!.event.kind, e!.event.sqlstate, e!.event.role], ["auth", "28P01", "eve"]);
  const [hba] = stderr(stderrEntry({
    severity: "FATAL",
    message: 'no pg_hba.conf entry for host "10.0.0.9", user "x", database "y", no encryption',
  }));
  assertEquals([hba!.event.kind, hba!.event.sqlstate], ["auth", "28000"]);
});

Deno.test("logEvent() makes an event of an error with its statement", () => {
  const e = csv({
    severity: "ERROR",
    sqlstate: "42703",
    message: 'column "nosuchcol" does not exist',
    statement: "SELECT nosuchcol FROM t",
  })!;
  assertEquals(
    [e.event.kind, e.event.command, e.event.sqlstate, e.event.error, e.event.statement],
    ["session", "SELECT", "42703", 'column "nosuchcol" does not exist', "SELECT nosuchcol FROM t"],
  );
  const bg = csv({ severity: "ERROR", message: "worker failed", user: "", db: "", tag: "" })!;
  assertEquals([bg.event.kind, bg.event.command], ["system", undefined]);
});

Deno.test("logEvent() flags setting changes that turn auditing down as system events", () => {
  const alter = csv({ message: auditMessage("ALTER SYSTEM SET pgaudit.log = 'none'") })!;
  assertEquals([alter.event.kind, alter.event.context], ["system", {
    setting: "pgaudit.log",
    value: "none",
    audit_reduced: true,
  }]);
  const reload = csv({ message: 'parameter "pgaudit.log" changed to "none"', user: "", db: "" })!;
  assertEquals(
    [reload.event.kind, reload.event.command, reload.event.object, reload.event.object_type],
    ["system", "RELOAD", "pgaudit.log", "SETTING"],
  );
  assertEquals(reload.event.context?.audit_reduced, true);
});

Deno.test("logEvent() gives nothing for log lines that are not about auditing", () => {
  assertEquals(csv({ message: "checkpoint starting: time" }), undefined);
  assertEquals(
    csv({ severity: "WARNING", message: "there is no transaction in progress" }),
    undefined,
  );
  assertEquals(csv({ message: "connection received: host=[local]" }), undefined);
});

Deno.test("logEvent() keeps what it cannot read as a raw system event", () => {
  const audit = csv({ message: "AUDIT: SESSION,1,x" })!;
  assertEquals([audit.event.kind, audit.event.ts, audit.event.role], ["system", TS, "ada"]);
  assertMatch(
    audit.event.parse_error!,
    /^Cannot read the pgAudit record in postgresql.csv at byte 0 \(line 1\): /,
  );
  assert(audit.event.raw!.includes("AUDIT: SESSION,1,x"), "raw is the record");
  const zone = csv({ message: auditMessage("select 1"), time: "2026-11-23 18:00:00.123 CET" })!;
  assertMatch(zone.event.parse_error!, /set the timezone option/);
  assertEquals(zone.event.ts, 42, "the clock, as the time could not be read");
  const [garbage] = stderr("2026-11-23 18:00:00.123 UTC garbage\n");
  assertEquals([garbage!.event.kind, garbage!.event.ts], ["system", TS]);
  assertEquals(garbage!.event.raw, "2026-11-23 18:00:00.123 UTC garbage");
  assertMatch(garbage!.event.parse_error!, /line does not match log_line_prefix/);
});

Deno.test("logEvent() reads zone names in the configured timezone", () => {
  const e = csv(
    { message: auditMessage("select 1"), time: "2026-11-23 19:00:00.123 CET" },
    "Europe/Berlin",
  )!;
  assertEquals(e.event.ts, TS);
});

Deno.test("logEvent() flags invalid UTF-8 and keeps the exact bytes as hex", () => {
  const row = bytes(csvRow({ message: auditMessage("select '*'") }));
  row[row.indexOf(0x2a)] = 0xff;
  const out: LogRecord[] = [];
  new CsvLogDecoder().push(row, (r) => out.push(csvLogRecord(r)));
  const e = logEvent(out[0]!, OPTS)!;
  assertEquals([e.event.kind, e.event.statement], ["session", "select '\uFFFD'"]);
  assertMatch(e.event.parse_error!, /is not valid UTF-8/);
  assert(e.event.raw!.startsWith("\\x323032362d"), "raw is bytea hex of the record");
  assert(e.event.raw!.includes("ff"), "with the bad byte");
});

Deno.test("checkEventOptions() refuses a missing source and an unknown timezone", () => {
  assertThrows(() => checkEventOptions({ source: "" }), { instanceOf: TypeError });
  assertThrows(() => checkEventOptions({ source: "x", timezone: "Nowhere/City" }), {
    instanceOf: TypeError,
  });
  checkEventOptions({ source: "x", timezone: "Europe/Berlin" });
});
