/**
 * The `vigil.stmt` message of the statement trigger against a real PostgreSQL 15 with pgAudit:
 * one message per writing statement (not per row), in the statement's transaction, whose pid,
 * virtual transaction id and session id are those pgAudit's csvlog line of the same statement
 * carries — also under `session_replication_role = replica`, for TRUNCATE, and over the
 * extended protocol. Read through a test_decoding slot, so nothing of the WAL source is needed.
 */

import { installPgSide } from "../../../daemon/pg/install.ts";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { pgbench } from "../../support/pgbench.ts";
import { type PgCluster, startPostgres } from "../../support/postgres.ts";

interface StmtMessage {
  v: number;
  pid: number;
  vxid: string;
  xid: string;
  session_id: string;
  role: string;
  current_user: string;
  client_addr: string | null;
  client_port: number | null;
  application_name: string;
  statement: string;
  schema: string;
  table: string;
  op: string;
  stmt_ts: string;
  pgaudit_log: string | null;
  replication_role: string;
}

/** Every transaction's xid and vigil.stmt messages, read (and consumed) from the slot. */
async function decoded(
  pg: PgCluster,
): Promise<{ xid: string; rows: number; msgs: StmtMessage[] }[]> {
  const out = await pg.sql("SELECT data FROM pg_logical_slot_get_changes('t', NULL, NULL)");
  const txns: { xid: string; rows: number; msgs: StmtMessage[] }[] = [];
  for (const line of out.split("\n")) {
    const begin = /^BEGIN (\d+)$/.exec(line);
    if (begin) txns.push({ xid: begin[1]!, rows: 0, msgs: [] });
    else if (line.startsWith("table ")) txns.at(-1)!.rows++;
    else if (line.includes("prefix: vigil.stmt,")) {
      txns.at(-1)!.msgs.push(JSON.parse(line.slice(line.indexOf("content:") + 8)));
    }
  }
  return txns.filter((t) => t.rows > 0 || t.msgs.length > 0);
}

/** csvlog fields of pgAudit's WRITE lines: pid, session id, vxid and the statement. */
async function auditWrites(pg: PgCluster, until: string): Promise<string[][]> {
  const csv = (await pg.logFiles()).csvlog;
  const text = await assertEventually(async () => {
    const t = await Deno.readTextFile(csv);
    return t.includes(until) ? t : undefined;
  }, { timeoutMs: 10_000, message: "the marker reached the csvlog" });
  const rows: string[][] = [];
  for (const line of text.split("\n")) {
    const m =
      /^[^,]+,"[^"]*","[^"]*",(\d+),[^,]*,([0-9a-f]+\.[0-9a-f]+),\d+,[^,]*,[^,]+,(\d+\/\d+),\d+,LOG,00000,"AUDIT: SESSION,\d+,\d+,WRITE,([A-Z ]+),/
        .exec(line);
    if (m) rows.push([m[1]!, m[2]!, m[3]!, m[4]!.replace(/ TABLE$/, "")]);
  }
  return rows;
}

Deno.test("vigil.emit_statement() emits one message per statement that matches pgAudit's line", async () => {
  await using pg = await startPostgres();
  await pg.sql("CREATE TABLE accounts (id int PRIMARY KEY, balance int)");
  await installPgSide(pg.dsn());
  await pg.sql("SELECT pg_create_logical_replication_slot('t', 'test_decoding')");
  await pg.sql(
    `INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 5) g;
    BEGIN; UPDATE accounts SET balance = 1 WHERE id <= 3; DELETE FROM accounts WHERE id = 5;
    COMMIT;`,
    "postgres",
    { applicationName: "teller" },
  );
  // A superuser session that skips ordinary triggers: ALWAYS triggers still fire.
  await pg.sql(`SET session_replication_role = replica;
    UPDATE accounts SET balance = 2; TRUNCATE accounts;`);
  const txns = await decoded(pg);
  assertEquals(txns.map((t) => t.msgs.map((m) => m.op)), [
    ["INSERT"],
    ["UPDATE", "DELETE"],
    ["UPDATE"],
    ["TRUNCATE"],
  ]);
  const marker = `vigil-flush-${crypto.randomUUID()}`;
  await pg.sql(`SELECT '${marker}'`);
  const audit = await auditWrites(pg, marker);
  const msgs = txns.flatMap((t) => t.msgs.map((m) => ({ ...m, txid: t.xid })));
  assertEquals(
    msgs.map((m) => [String(m.pid), m.session_id, m.vxid, m.op]),
    audit,
    "pid, session id, virtual transaction id and command as pgAudit logged them",
  );
  for (const m of msgs) {
    assertEquals(m.xid, m.txid, "the message's xid is its transaction's");
    assertEquals([m.v, m.role, m.current_user, m.client_addr, m.schema, m.table], [
      1,
      "postgres",
      "postgres",
      "127.0.0.1",
      "public",
      "accounts",
    ]);
    assert(Number.isInteger(m.client_port) && m.client_port! > 0, String(m.client_port));
    assert(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(m.stmt_ts), m.stmt_ts);
  }
  assertEquals(msgs[0]!.application_name, "teller");
  assertEquals(
    msgs[0]!.statement.trim(),
    "INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 5) g;",
  );
  assertEquals(msgs.at(-1)!.statement.trim(), "TRUNCATE accounts;");
  // What the session had in force: the replica role of the last session shows.
  assertEquals(msgs.map((m) => `${m.pgaudit_log} ${m.replication_role}`), [
    "all origin",
    "all origin",
    "all origin",
    "all replica",
    "all replica",
  ]);
  assertEquals(txns[0]!.rows, 5, "five rows, one message");
});

Deno.test("vigil.emit_statement() attributes every pgbench statement over the extended protocol", async () => {
  await using pg = await startPostgres();
  await installPgSide(pg.dsn());
  const init = await pgbench(pg, ["-i", "-s", "1", "-q"]).output();
  assert(init.success, new TextDecoder().decode(init.stderr));
  await pg.sql("SELECT pg_create_logical_replication_slot('t', 'test_decoding')");
  const run = await pgbench(pg, ["-n", "-M", "extended", "-c", "2", "-t", "20"]).output();
  assert(run.success, new TextDecoder().decode(run.stderr));
  const txns = await decoded(pg);
  assertEquals(txns.length, 40);
  for (const t of txns) {
    // TPC-B: three UPDATEs and an INSERT into history, one row each.
    assertEquals(t.msgs.map((m) => `${m.op} ${m.table}`), [
      "UPDATE pgbench_accounts",
      "UPDATE pgbench_tellers",
      "UPDATE pgbench_branches",
      "INSERT pgbench_history",
    ]);
    assertEquals(t.rows, 4);
    assert(t.msgs.every((m) => m.xid === t.xid && m.vxid === t.msgs[0]!.vxid), t.xid);
    assert(t.msgs[0]!.statement.includes("$1"), t.msgs[0]!.statement);
    assertEquals(t.msgs[0]!.application_name, "pgbench");
  }
});
