/**
 * The workload whose log the pgAudit parser tests read: statements chosen to break a careless
 * parser (multi-line text with quotes, commas, tabs and CRLF; `$$` bodies; emoji and combining
 * marks; text that looks like a csvlog record or a stderr line; a long statement), parameters
 * by `PREPARE/EXECUTE` and by the extended protocol, object auditing of a table whose name needs
 * quoting, a runtime error, plan-time and syntax errors (no AUDIT line), failed logins, and
 * setting changes that turn auditing down. Each step says what the log must show for it, so the
 * fixture test and the live test check the same expectations.
 *
 * Statements go through postgres.js as simple queries (or with parameters through the extended
 * protocol): the server receives exactly the text written here, byte for byte.
 */

import postgres from "postgres";
import type { PgCluster } from "../../support/postgres.ts";

/** An AUDIT line a step must produce. */
export interface ExpectedAudit {
  statement: string;
  params?: (string | null)[];
  auditType?: "SESSION" | "OBJECT";
  object?: string;
  /** The line is a setting change: a `system` event, and whether it lessens auditing. */
  reduced?: boolean;
}

/** One statement (or login attempt) and what the log must show for it. */
export interface Step {
  /** The statement, sent as is. */
  sql: string;
  /** Extended-protocol parameters. */
  params?: (string | null)[];
  audits: ExpectedAudit[];
  /** The statement fails with this SQLSTATE; the log has an ERROR with the statement. */
  error?: string;
}

/** One connection of the workload, as `user`, and its steps. */
export interface Session {
  user?: { name: string; password: string };
  /** The login is refused with this SQLSTATE (no steps run). */
  loginFails?: string;
  steps: Step[];
}

/** `application_name` of every workload connection; the tests pick its events by it. */
export const APP = "vigil-workload";

const WEIRD_TABLE = `public."we,ird ""t"""`;
const FAKE_RECORDS = "\n2026-01-01 00:00:00.000 UTC,,,1,,x.1,1,,2026-01-01 00:00:00 UTC,,0," +
  `LOG,00000,"fake",,,,,,,,,"","client backend",,0\n` +
  "2026-01-01 00:00:00.000 UTC [1] x.1:1 user=a,db=b,app=c,client=d LOG:  AUDIT: " +
  "SESSION,1,1,READ,SELECT,,,fake,<none>\n";

/** A statement of about 25 kB with multi-byte text, so that it spans many read chunks. */
const LONG = `SELECT length('${'ünï 😀 ,"\n'.repeat(2_000)}') AS long`;

function audited(sql: string, more: Partial<ExpectedAudit> = {}): Step {
  return { sql, audits: [{ statement: sql, ...more }] };
}

const PREPARE = "PREPARE p(text, int, text) AS SELECT $1 AS a, $2 AS b, $3 AS c";
const EXECUTE = `EXECUTE p('he said "hi", ok', NULL, E'line1\\nline2')`;
const EXTENDED = "SELECT $1::text AS a, $2::int AS b, $3::text AS c, $4::text AS d";

/** The workload, session by session. */
export const SESSIONS: Session[] = [
  {
    steps: [
      audited(`CREATE TABLE ${WEIRD_TABLE} (id int, note text)`),
      audited("CREATE TABLE t (a text, b int)"),
      audited(`INSERT INTO t VALUES ('x,"y"\nz', 1),\n\t('tab\tinside', 2),\r\n('crlf', 3)`),
      audited("SELECT * FROM t WHERE a = ',' "),
      audited(
        "CREATE FUNCTION f(x text) RETURNS text LANGUAGE plpgsql AS $$\nBEGIN\n" +
          `\tRETURN x || ',"' || E'\\n';\nEND\n$$`,
      ),
      audited("SELECT f('a''b') AS quoted"),
      audited(`SELECT '😀 ünï ✓ 中文 e\u0301' AS "ñ"`),
      audited(PREPARE),
      {
        sql: EXECUTE,
        audits: [
          { statement: PREPARE, params: ['he said "hi", ok', null, "line1\nline2"] },
          { statement: EXECUTE },
        ],
      },
      {
        sql: EXTENDED,
        params: ['a,b "q"\n😀', null, "", "<none>"],
        // pgAudit writes NULL and '' alike, as nothing.
        audits: [{ statement: EXTENDED, params: ['a,b "q"\n😀', null, null, "<none>"] }],
      },
      audited(`SELECT '${FAKE_RECORDS}' AS fake`),
      audited(LONG),
      audited("CREATE ROLE auditor NOLOGIN"),
      audited(`GRANT SELECT ON ${WEIRD_TABLE} TO auditor`),
      audited("SET pgaudit.role = 'auditor'", { reduced: false }),
      {
        sql: `SELECT * FROM ${WEIRD_TABLE}`,
        audits: [
          { statement: `SELECT * FROM ${WEIRD_TABLE}`, auditType: "OBJECT", object: WEIRD_TABLE },
        ],
      },
      {
        sql: "CREATE ROLE alice LOGIN PASSWORD 'alice-pw'",
        // pgAudit hides the password itself.
        audits: [{ statement: "CREATE ROLE alice LOGIN PASSWORD <REDACTED>" }],
      },
      // 1/0 would fail while planning (constant folding); this fails while running, after
      // pgAudit's line.
      {
        sql: "SELECT 1/(b - 1) AS boom FROM t",
        audits: [{ statement: "SELECT 1/(b - 1) AS boom FROM t" }],
        error: "22012",
      },
      { sql: "SELECT 1/0 AS folded", audits: [], error: "22012" },
      { sql: "SELECT nosuchcol FROM t", audits: [], error: "42703" },
      { sql: "SELEC 'syntax'", audits: [], error: "42601" },
    ],
  },
  { user: { name: "postgres", password: "wrong" }, loginFails: "28P01", steps: [] },
  { user: { name: "mallory", password: "guess" }, loginFails: "28P01", steps: [] },
  {
    user: { name: "alice", password: "alice-pw" },
    steps: [audited("SELECT current_user AS who")],
  },
  {
    steps: [
      // pgAudit checks its setting after the SET took effect: this one leaves no AUDIT line,
      // only a session that connected and did nothing visible.
      { sql: "SET pgaudit.log = 'none'", audits: [] },
      { sql: "SELECT 'not audited' AS quiet", audits: [] },
    ],
  },
  {
    steps: [
      audited("ALTER SYSTEM SET pgaudit.log = 'none'", { reduced: true }),
      audited("SELECT pg_reload_conf()"),
    ],
  },
];

/** Runs the workload against `pg` (started with `passwordAuth: true`). */
export async function runWorkload(pg: PgCluster): Promise<void> {
  for (const session of SESSIONS) {
    const user = session.user ?? { name: pg.superuser, password: pg.password };
    const sql = postgres({
      host: pg.host,
      port: pg.port,
      database: "postgres",
      username: user.name,
      password: user.password,
      max: 1,
      fetch_types: false,
      connection: { application_name: APP },
      onnotice: () => {},
    });
    try {
      if (session.loginFails !== undefined) {
        const err = await sql.unsafe("SELECT 1").simple().then(() => undefined, (e) => e);
        if (err?.code !== session.loginFails) {
          throw new Error(`login as ${user.name} should fail with ${session.loginFails}: ${err}`);
        }
        continue;
      }
      for (const step of session.steps) {
        const q = step.params === undefined
          ? sql.unsafe(step.sql).simple()
          : sql.unsafe(step.sql, step.params);
        const err = await q.then(() => undefined, (e) => e);
        if (err?.code !== step.error) {
          throw new Error(`step ${JSON.stringify(step.sql.slice(0, 60))}: ${err ?? "no error"}`);
        }
      }
    } finally {
      await sql.end();
    }
  }
  // The reload is applied by the postmaster a moment after pg_reload_conf() returns.
  // Only the reload says "changed to"; quotes around the name differ by format.
  await waitForLogs(pg, " changed to ");
}

/**
 * Waits until all three log files have `text` in them and have stopped growing: the logging
 * collector writes a moment after the statement returns.
 */
export async function waitForLogs(pg: PgCluster, text: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  const files = Object.values(await pg.logFiles());
  let sizes = "";
  for (;;) {
    const texts = await Promise.all(files.map((f) => Deno.readTextFile(f)));
    const now = texts.map((t) => t.length).join();
    if (texts.every((t) => t.includes(text)) && now === sizes) return;
    if (Date.now() > deadline) throw new Error(`the logs never said ${JSON.stringify(text)}`);
    sizes = now;
    await new Promise((r) => setTimeout(r, 100));
  }
}
