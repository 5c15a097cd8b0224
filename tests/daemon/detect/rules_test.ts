import { defaultDetectConfig, type DetectConfig } from "../../../daemon/detect/config.ts";
import { DetectEngine } from "../../../daemon/detect/engine.ts";
import type { AuditEvent, NewEvent } from "../../../daemon/event/model.ts";
import { installerStatements } from "../../../daemon/pg/install_sql.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { GAP_COMMANDS } from "../../../plugins/mod.ts";

const H = 3_600_000_000;
const T0 = Date.UTC(2026, 0, 5) * 1000;

/** Ten days of a role reading two tables at 10:00 from one address: a plain history. */
function history(role: string, extra: Partial<NewEvent> = {}): NewEvent[] {
  const out: NewEvent[] = [];
  for (let d = 0; d < 10; d++) {
    for (let i = 0; i < 5; i++) {
      out.push({
        ts: T0 + d * 24 * H + 10 * H + i * 60e6,
        source: "log",
        kind: "session",
        role,
        db: "shop",
        client_addr: "10.0.0.1",
        class: "READ",
        command: "SELECT",
        object: `public.t${i % 2}`,
        ...extra,
      });
    }
  }
  return out;
}

function run(events: NewEvent[], cfg: Partial<DetectConfig> = {}) {
  const engine = new DetectEngine({ ...defaultDetectConfig(), ...cfg }, {
    gapCommands: GAP_COMMANDS,
  });
  const sorted = events.map((e, i) => ({ e, i })).sort((a, b) => a.e.ts - b.e.ts || a.i - b.i);
  engine.feed(
    sorted.map(({ e }, seq) => ({ seq, event: { ...e, seq, ingest_ts: 0 } as AuditEvent })),
  );
  engine.flush();
  return engine.list();
}

const at = (day: number, hour: number) => T0 + day * 24 * H + hour * H;
const base = (ts: number, more: Partial<NewEvent>): NewEvent => ({
  ts,
  source: "log",
  kind: "session",
  role: "bob",
  db: "shop",
  client_addr: "10.0.0.1",
  ...more,
});

Deno.test("ddl_by_non_ddl_role fires for TRUNCATE by a reader, not for a role that does DDL", () => {
  const trunc = base(at(10, 10) + 30 * 60e6, {
    class: "DDL",
    command: "TRUNCATE TABLE",
    object: "public.t0",
  });
  const alerts = run([...history("bob"), trunc], { disabled: ["model"] });
  const a = alerts.find((x) => x.rule === "ddl_by_non_ddl_role");
  assert(a, "no alert");
  assertEquals(a.severity, "critical");
  assertEquals(a.role, "bob");
  assert(a.reason.includes("TRUNCATE TABLE public.t0"), a.reason);
  const ddlRole = history("bob").map((e, i) =>
    i === 3 ? { ...e, class: "DDL", command: "CREATE INDEX" } : e
  );
  const quiet = run([...ddlRole, trunc], { disabled: ["model"] });
  assertEquals(quiet.filter((x) => x.rule === "ddl_by_non_ddl_role"), []);
  // Without enough history nothing is "never": a young role is not judged.
  assertEquals(run([trunc]).filter((x) => x.rule === "ddl_by_non_ddl_role"), []);
});

Deno.test("privilege_escalation fires for SUPERUSER and grants on sensitive objects only", () => {
  const evs = [
    base(at(0, 9), {
      class: "ROLE",
      command: "ALTER ROLE",
      statement: "ALTER ROLE eve WITH SUPERUSER",
    }),
    base(at(1, 9), {
      class: "ROLE",
      command: "ALTER ROLE",
      statement: "ALTER ROLE eve NOSUPERUSER",
    }),
    base(at(2, 9), { class: "ROLE", command: "GRANT", statement: "GRANT SELECT ON hr.pay TO eve" }),
    base(at(3, 9), {
      class: "ROLE",
      command: "GRANT",
      statement: "GRANT SELECT ON public.x TO eve",
    }),
    base(at(4, 9), { class: "ROLE", command: "GRANT", statement: "GRANT pg_read_all_data TO eve" }),
  ];
  const alerts = run(evs, { sensitive_objects: ["hr.*"] }).filter((a) =>
    a.rule === "privilege_escalation"
  );
  assertEquals(alerts.map((a) => a.seqs), [[0], [2], [4]]);
  assertEquals(alerts.map((a) => a.severity), ["critical", "high", "high"]);
  assert(alerts[1]!.reason.includes("hr.pay"), alerts[1]!.reason);
});

Deno.test("failed_login_burst fires at the threshold and merges the burst into one alert", () => {
  const fail = (i: number): NewEvent =>
    base(at(0, 3) + i * 10e6, {
      kind: "auth",
      command: "LOGIN FAILED",
      sqlstate: "28P01",
      client_addr: "203.0.113.9",
    });
  const four = run([0, 1, 2, 3].map(fail));
  assertEquals(four.filter((a) => a.rule === "failed_login_burst"), []);
  const many = run(Array.from({ length: 20 }, (_, i) => fail(i))).filter((a) =>
    a.rule === "failed_login_burst"
  );
  assertEquals(many.length, 1);
  assertEquals(many[0]!.seqs, Array.from({ length: 20 }, (_, i) => i));
  assertEquals(many[0]!.client_addr, "203.0.113.9");
});

Deno.test("new_client_addr and off_hours judge against the role's own history", () => {
  const late = base(at(10, 3), {
    class: "READ",
    command: "SELECT",
    object: "public.t0",
    client_addr: "192.0.2.7",
  });
  const alerts = run([...history("bob"), late], { disabled: ["model"] });
  const addr = alerts.find((a) => a.rule === "new_client_addr");
  assert(addr, "no new address alert");
  assertEquals(addr.severity, "high");
  assert(addr.reason.includes("192.0.2.7") && addr.reason.includes("3:00 UTC"), addr.reason);
  const off = alerts.find((a) => a.rule === "off_hours");
  assert(off && off.reason.includes("3:00 UTC holds 0.0%"), off?.reason);
  const usual = base(at(10, 10) + 50 * 60e6, {
    class: "READ",
    command: "SELECT",
    object: "public.t1",
  });
  assertEquals(run([...history("bob"), usual], { disabled: ["model"] }), []);
});

Deno.test("bulk_read and first reads of sensitive objects", () => {
  const sweep = Array.from(
    { length: 30 },
    (_, i) =>
      base(at(10, 10) + i * 60e6, {
        class: "READ",
        command: "SELECT",
        object: i === 0 ? "hr.pay" : `public.x${i}`,
      }),
  );
  const alerts = run([...history("bob"), ...sweep], {
    disabled: ["model"],
    sensitive_objects: ["hr.*"],
  });
  const bulk = alerts.find((a) => a.rule === "bulk_read");
  assert(bulk, "no bulk read alert");
  assertEquals(bulk.score, 30);
  assertEquals(bulk.severity, "critical");
  const exf = alerts.filter((a) => a.rule === "exfiltration");
  assert(exf.length >= 1 && exf[0]!.reason.includes("hr.pay"), JSON.stringify(exf));
});

/** A pgAudit DDL statement by the superuser. */
function ddl(ts: number, command: string, object: string): NewEvent {
  return {
    ts,
    source: "log",
    kind: "session",
    class: "DDL",
    role: "postgres",
    command,
    object,
    statement: `${command} ${object}`,
  };
}

Deno.test("audit_tampering fires for gap alarms, lowered audit settings and a declared key loss", () => {
  const evs: NewEvent[] = [
    { ts: at(0, 1), source: "wal", kind: "system", command: "WAL_GAP", error: "slot dropped" },
    { ts: at(0, 2), source: "wal", kind: "system", command: "WAL_HEARTBEAT_RESTORED" },
    { ts: at(1, 2), source: "wal", kind: "system", command: "WAL_DDL_TRIGGER_MISSING" },
    {
      ts: at(2, 2),
      source: "log",
      kind: "system",
      command: "RELOAD",
      object: "pgaudit.log",
      context: { setting: "pgaudit.log", value: "none", audit_reduced: true },
    },
    {
      ts: at(3, 2),
      source: "log",
      kind: "system",
      command: "RELOAD",
      context: { audit_reduced: false },
    },
    { ts: at(4, 2), source: "log", kind: "system", command: "PGAUDIT_FILE_UNREAD", error: "gone" },
    { ts: at(5, 2), source: "vigil", kind: "system", command: "KEY_ROTATE" },
    { ts: at(6, 2), source: "vigil", kind: "system", command: "KEY_LOSS_DECLARED" },
    ddl(at(7, 2), "CREATE EVENT TRIGGER", "vigil_sql_drop"),
    ddl(at(8, 2), "ALTER EVENT TRIGGER", "vigil_sql_drop"),
    ddl(at(9, 2), "DROP EVENT TRIGGER", "vigil_ddl_command_end"),
  ];
  const alerts = run(evs).filter((a) => a.rule === "audit_tampering");
  assertEquals(alerts.map((a) => a.seqs[0]), [0, 2, 3, 5, 7, 9, 10]);
  assert(alerts.every((a) => a.severity === "critical"));
  assert(alerts[2]!.reason.includes('pgaudit.log lowered to "none"'), alerts[2]!.reason);
});

Deno.test("audit_tampering fires for any DDL on Vigil's objects but the installer's own statements", () => {
  const stmt = (command: string, object: string, statement: string): NewEvent => ({
    ...ddl(at(1, 2), command, object),
    statement,
  });
  const installer = [...installerStatements()];
  const replaced = installer.find((s) => s.includes("FUNCTION vigil.emit_ddl_commands()"))!;
  const cases: [NewEvent, boolean][] = [
    // The bypasses of issue 15.
    [
      stmt(
        "ALTER EVENT TRIGGER",
        "vigil_ddl_command_end",
        "ALTER EVENT TRIGGER vigil_ddl_command_end ENABLE REPLICA",
      ),
      true,
    ],
    [
      stmt(
        "CREATE FUNCTION",
        "vigil.emit_ddl_commands",
        "CREATE OR REPLACE FUNCTION vigil.emit_ddl_commands() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$",
      ),
      true,
    ],
    [
      stmt(
        "ALTER FUNCTION",
        "vigil.emit_statement",
        "ALTER FUNCTION vigil.emit_statement() OWNER TO mallory",
      ),
      true,
    ],
    [stmt("DROP SCHEMA", "vigil", "DROP SCHEMA vigil CASCADE"), true],
    [
      stmt("DROP TRIGGER", "vigil_stmt on public.accounts", "DROP TRIGGER vigil_stmt ON accounts"),
      true,
    ],
    [
      stmt("ALTER TABLE", "public.accounts", "ALTER TABLE accounts DISABLE TRIGGER vigil_stmt"),
      true,
    ],
    [
      stmt("ALTER TABLE", "public.accounts", "ALTER TABLE accounts ENABLE TRIGGER vigil_stmt"),
      true,
    ],
    [
      stmt("ALTER TABLE", "public.accounts", "alter table accounts enable replica trigger all"),
      true,
    ],
    // The installer's exact text, alone, is not; smuggled next to something else it is.
    [stmt("CREATE FUNCTION", "vigil.emit_ddl_commands", replaced), false],
    [stmt("CREATE FUNCTION", "vigil.emit_ddl_commands", `${replaced}; SELECT 1`), true],
    [
      stmt(
        "ALTER EVENT TRIGGER",
        "vigil_sql_drop",
        "ALTER EVENT TRIGGER vigil_sql_drop ENABLE ALWAYS",
      ),
      false,
    ],
    [
      stmt(
        "ALTER EVENT TRIGGER",
        "vigil_sql_drop",
        "ALTER EVENT TRIGGER vigil_sql_drop ENABLE ALWAYS; ALTER EVENT TRIGGER vigil_sql_drop DISABLE",
      ),
      true,
    ],
    [
      stmt(
        "ALTER TABLE",
        "public.accounts",
        "ALTER TABLE public.accounts ENABLE ALWAYS TRIGGER vigil_stmt",
      ),
      false,
    ],
    [
      stmt("CREATE TRIGGER", "vigil_stmt on public.accounts", "CREATE TABLE accounts (id int)"),
      false,
    ],
    [stmt("CREATE TABLE", "public.vigilant", "CREATE TABLE vigilant (id int)"), false],
    // pgAudit names no object for CREATE FUNCTION: the statement tells.
    [
      stmt(
        "CREATE FUNCTION",
        "",
        "CREATE OR REPLACE FUNCTION vigil.emit_ddl_commands() RETURNS event_trigger AS $$ BEGIN END $$",
      ),
      true,
    ],
    [
      stmt(
        "CREATE FUNCTION",
        "",
        `CREATE FUNCTION "vigil"."x"() RETURNS int AS 'SELECT 1' LANGUAGE sql`,
      ),
      true,
    ],
    [stmt("ALTER SCHEMA", "", "ALTER SCHEMA vigil RENAME TO old"), true],
    [
      stmt(
        "CREATE FUNCTION",
        "",
        "CREATE FUNCTION public.vigilance() RETURNS int AS 'SELECT 1' LANGUAGE sql",
      ),
      false,
    ],
    // What pgAudit logs of the trigger pg-install's event trigger puts on a new table.
    [
      stmt(
        "CREATE TRIGGER",
        "",
        'CREATE TRIGGER vigil_stmt AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON public."Odd Name" FOR EACH STATEMENT EXECUTE FUNCTION vigil.emit_statement()',
      ),
      false,
    ],
    [
      stmt(
        "CREATE TRIGGER",
        "",
        "CREATE TRIGGER vigil_stmt AFTER INSERT ON public.t FOR EACH STATEMENT EXECUTE FUNCTION vigil.emit_statement()",
      ),
      true,
    ],
    [
      stmt(
        "CREATE TRIGGER",
        "vigil_stmt on public.t",
        "SELECT tbl, action FROM vigil.attach_statement_triggers()",
      ),
      false,
    ],
  ];
  for (const [ev, fires] of cases) {
    const alerts = run([ev]).filter((a) => a.rule === "audit_tampering");
    assertEquals(alerts.length, fires ? 1 : 0, ev.statement);
  }
});

Deno.test("audit_reduced alerts on AUDIT_REDUCED, critical only when context.critical says so", () => {
  const reduced = (critical: boolean): NewEvent => ({
    ts: at(1, 2),
    source: "wal",
    kind: "system",
    command: "AUDIT_REDUCED",
    error: `Auditing was reduced (critical ${critical})`,
    context: { critical, changes: [] },
  });
  const changed: NewEvent = {
    ts: at(1, 3),
    source: "wal",
    kind: "system",
    command: "PG_CONFIG_CHANGED",
    context: { changes: [] },
  };
  for (const critical of [true, false]) {
    const alerts = run([reduced(critical), changed]).filter((a) => a.rule === "audit_reduced");
    assertEquals(alerts.map((a) => [a.seqs[0], a.severity]), [[0, critical ? "critical" : "high"]]);
    assert(alerts[0]!.reason.startsWith(`Auditing was reduced (critical ${critical})`));
  }
  assertEquals(run([changed]).length, 0, "a change that removes nothing is no alert");
});
