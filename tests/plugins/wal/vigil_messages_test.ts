import { readVigilMessage, STMT_PREFIX } from "../../../plugins/wal/vigil_messages.ts";
import { assertEquals, assertMatch } from "../../support/assert.ts";

const enc = new TextEncoder();

/** A `vigil.stmt` record as pg-install's statement trigger writes it. */
const STMT = {
  v: 1,
  pid: 4242,
  vxid: "3/14",
  xid: "771",
  session_id: "6b048ec8.1092",
  role: "ada",
  current_user: "billing_owner",
  client_addr: "10.1.2.3",
  client_port: 50000,
  application_name: "pgbench",
  statement: "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;",
  schema: "public",
  table: "pgbench_accounts",
  op: "UPDATE",
  stmt_ts: "2026-12-06T10:00:00.123456Z",
  pgaudit_log: "all",
  replication_role: "origin",
};

Deno.test("readVigilMessage() makes a STATEMENT message event of a vigil.stmt record", () => {
  const { fields, context } = readVigilMessage(STMT_PREFIX, enc.encode(JSON.stringify(STMT)));
  assertEquals(context, null);
  assertEquals(fields, {
    kind: "message",
    command: "STATEMENT",
    role: "ada",
    client_addr: "10.1.2.3",
    application_name: "pgbench",
    session_id: "6b048ec8.1092",
    pid: 4242,
    statement: STMT.statement,
    schema: "public",
    object: "public.pgbench_accounts",
    object_type: "TABLE",
    context: {
      vxid: "3/14",
      op: "UPDATE",
      current_user: "billing_owner",
      client_port: 50000,
      stmt_ts: "2026-12-06T10:00:00.123456Z",
      pgaudit_log: "all",
      replication_role: "origin",
    },
  });
});

Deno.test("readVigilMessage() leaves out null fields of a local (socket) session", () => {
  const local = { ...STMT, client_addr: null, client_port: null, table: "Order Lines" };
  const { fields } = readVigilMessage(STMT_PREFIX, enc.encode(JSON.stringify(local)));
  assertEquals([fields.client_addr, fields.object], [undefined, 'public."Order Lines"']);
  assertEquals(fields.context?.client_port, undefined);
});

Deno.test("readVigilMessage() keeps a vigil.stmt record it cannot read, with the reason", () => {
  const text = JSON.stringify({ ...STMT, pid: "4242" });
  const { fields } = readVigilMessage(STMT_PREFIX, enc.encode(text));
  assertEquals([fields.kind, fields.command, fields.raw], ["message", "STATEMENT", text]);
  assertMatch(fields.parse_error!, /field "pid" of the vigil\.stmt message is not an integer/);
  const broken = readVigilMessage(STMT_PREFIX, enc.encode("{not json")).fields;
  assertEquals([broken.raw, broken.role], ["{not json", undefined]);
  assertMatch(broken.parse_error!, /not JSON/);
});
