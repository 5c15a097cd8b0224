/**
 * The proxy source with psql (the simple query protocol) against a real PostgreSQL: what the
 * client did arrives as events in order — the session start with who and from where, the
 * login outcome, each statement with its tag, row count, error and the transaction state
 * after it, COPY with byte counts, and the end — while psql gets the server's answers as
 * if it were connected directly.
 */

import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { startPostgres } from "../../support/postgres.ts";
import { psql, startProxy } from "./_harness.ts";

Deno.test("proxy source records a psql session: connect, login, statements, end", async () => {
  await using pg = await startPostgres();
  await using proxy = await startProxy(pg);
  const r = await psql(proxy.port, [
    "-c",
    "CREATE TABLE accounts (id int PRIMARY KEY, owner text)",
    "-c",
    "INSERT INTO accounts VALUES (1, 'ann'), (2, 'bob')",
    "-c",
    "BEGIN; UPDATE accounts SET owner = 'eve' WHERE id = 2",
    "-c",
    "COMMIT",
    "-c",
    "SELECT owner FROM accounts ORDER BY id",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout, "CREATE TABLE\nINSERT 0 2\nBEGIN\nUPDATE 1\nCOMMIT\nann\neve\n");
  const failed = await psql(proxy.port, ["-c", "SELECT 1/0"]);
  assertEquals(failed.code, 1);
  assert(failed.stderr.includes("division by zero"), failed.stderr);
  await assertEventually(() => proxy.store.of("DISCONNECT").length === 2, {
    message: "both sessions ended",
  });
  await proxy.stop();

  const events = proxy.store.events;
  const connects = proxy.store.of("CONNECT");
  assertEquals(connects.length, 2);
  const first = connects[0]!;
  const sid = first.session_id!;
  assertEquals(first.kind, "session");
  assertEquals(first.role, "postgres");
  assertEquals(first.db, "postgres");
  assertEquals(first.application_name, "proxy-test");
  assertEquals(first.client_addr, "127.0.0.1");
  assertEquals(first.context?.tls, false);
  assert(typeof first.context?.client_port === "number" && first.context.client_port > 0);
  assert(connects[1]!.session_id !== sid, "each session has its own id");
  assertEquals(first.context?.startup, undefined);

  const session = events.filter((e) => e.session_id === sid);
  assertEquals(
    session.map((e) => e.command),
    [
      "CONNECT",
      "AUTH_OK",
      "CREATE TABLE",
      "INSERT",
      "BEGIN",
      "UPDATE",
      "COMMIT",
      "SELECT",
      "DISCONNECT",
    ],
  );
  assertEquals(session[1]!.kind, "auth");
  const byCommand = (c: string) => session.find((e) => e.command === c)!;
  assertEquals(byCommand("INSERT").statement, "INSERT INTO accounts VALUES (1, 'ann'), (2, 'bob')");
  assertEquals(byCommand("INSERT").context?.rows, 2);
  assertEquals(byCommand("INSERT").context?.tag, "INSERT 0 2");
  assertEquals(byCommand("INSERT").context?.protocol, "simple");
  assertEquals(byCommand("INSERT").context?.tx_status, "I");
  // Two statements in one Query: one event each, with the transaction state after each.
  assertEquals(byCommand("BEGIN").context?.tx_status, "T");
  assertEquals(byCommand("UPDATE").context?.tx_status, "T");
  assertEquals(byCommand("UPDATE").context?.rows, 1);
  assertEquals(byCommand("COMMIT").context?.tx_status, "I");
  assertEquals(byCommand("SELECT").context?.rows, 2);
  assert(typeof byCommand("SELECT").context?.duration_us === "number");
  assertEquals(byCommand("DISCONNECT").context?.reason, "client");

  const error = events.find((e) => e.sqlstate !== undefined)!;
  assertEquals(error.statement, "SELECT 1/0");
  assertEquals(error.command, "SELECT");
  assertEquals(error.sqlstate, "22012");
  assertEquals(error.error, "division by zero");
  assertEquals(error.context?.tx_status, "I");

  const positions = events.map((e) => e.source_pos);
  assertEquals(new Set(positions).size, positions.length, "positions are unique");
  assert(positions.every((p, i) => p === `${events[i]!.session_id}#${p!.split("#")[1]}`));
});

Deno.test("proxy source records COPY in and out with byte and row counts, not the data", async () => {
  await using pg = await startPostgres();
  await pg.sql("CREATE TABLE items (id int, name text)");
  await using proxy = await startProxy(pg);
  const rows = "1\tapple\n2\tpear\n3\tplum\n";
  const copyIn = await psql(proxy.port, ["-c", "\\copy items FROM STDIN"], { stdin: rows });
  assertEquals(copyIn.code, 0, copyIn.stderr);
  const copyOut = await psql(proxy.port, ["-c", "COPY items TO STDOUT"]);
  assertEquals(copyOut.stdout, rows);
  await assertEventually(() => proxy.store.of("DISCONNECT").length === 2);
  await proxy.stop();
  const [into, out] = proxy.store.of("COPY");
  assertEquals(into?.context?.rows, 3);
  assertEquals(into?.context?.bytes_in, new TextEncoder().encode(rows).length);
  assertEquals(out?.context?.rows, 3);
  assertEquals(out?.context?.bytes_out, new TextEncoder().encode(rows).length);
  assert(!JSON.stringify(proxy.store.events).includes("apple"), "no copied data in events");
});

Deno.test("proxy source: a daemon stop closes client sessions, recorded as restart", async () => {
  await using pg = await startPostgres();
  await using proxy = await startProxy(pg);
  const child = new Deno.Command("psql", {
    args: [
      "-X",
      "-At",
      "-d",
      `host=127.0.0.1 port=${proxy.port} dbname=postgres user=postgres sslmode=disable`,
      "-c",
      "SELECT pg_sleep(60)",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await assertEventually(() => proxy.store.of("AUTH_OK").length === 1, { message: "logged in" });
  await proxy.stop();
  const out = await child.output();
  assert(out.code !== 0, "psql sees its session end");
  const end = proxy.store.of("DISCONNECT");
  assertEquals(end.length, 1);
  assertEquals(end[0]!.context?.reason, "restart");
});
