/**
 * psql through the proxy (the simple protocol): every statement a script sends is one stored
 * event with its text, tag, row count and transaction state; an error carries its SQLSTATE;
 * `\copy` in and out are COPY events with the bytes and rows psql moved; psql's cancel (SIGINT
 * while a query runs) reaches the server through the proxy and is recorded; a wrong password is
 * AUTH_FAILED and a right one AUTH_OK. The record is compared with what psql sent and got.
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { assert, assertEquals, assertEventually, assertMatch } from "../../support/assert.ts";
import {
  brief,
  ctx,
  duplicatePositions,
  isCommand,
  type ProxiedCluster,
  sessionOf,
  settledEvents,
  startProxied,
  statementsOf,
} from "../../support/proxy_clients.ts";

const PSQL = "/usr/lib/postgresql/15/bin/psql";

/** Runs psql through the proxy with `args`; returns its exit code and output. */
async function psql(
  db: ProxiedCluster,
  args: string[],
  opts: { appName: string; password?: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await psqlCommand(db, args, opts).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function psqlCommand(
  db: ProxiedCluster,
  args: string[],
  opts: { appName: string; password?: string },
): Deno.Command {
  return new Deno.Command(PSQL, {
    args: ["-X", "-q", "-At", "-h", "127.0.0.1", "-p", String(db.proxy.port)]
      .concat(["-U", db.pg.superuser, "-d", "postgres", ...args]),
    env: { PGPASSWORD: opts.password ?? db.pg.password, PGAPPNAME: opts.appName },
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("proxy records a psql script, \\copy in and out, an error and its sessions", async () => {
  await using db = await startProxied("observe");
  const dir = db.proxy.dataDir.replace(/\/data$/, "");
  const rows = ["1\tone", "2\ttwo", "3\tthree's"].join("\n") + "\n";
  await Deno.writeTextFile(`${dir}/in.tsv`, rows);
  const script = [
    "CREATE TABLE items (id int PRIMARY KEY, note text);",
    "INSERT INTO items VALUES (10, 'ten'), (11, 'eleven');",
    "SELECT id, note FROM items ORDER BY id;",
    "UPDATE items SET note = 'TEN' WHERE id = 10;",
    "SELECT 1 / 0;",
    `\\copy items FROM '${dir}/in.tsv'`,
    `\\copy items TO '${dir}/out.tsv'`,
    "BEGIN;",
    "DELETE FROM items WHERE id < 10;",
    "COMMIT;",
  ].join("\n");
  await Deno.writeTextFile(`${dir}/script.sql`, script);
  const run = await psql(db, ["-f", `${dir}/script.sql`], { appName: "psql-script" });
  assertEquals(run.code, 0, `psql failed: ${run.stderr}`);
  assertEquals(run.stdout, "10|ten\n11|eleven\n", "what psql printed");
  assertMatch(run.stderr, /division by zero/);
  const copiedOut = await Deno.readTextFile(`${dir}/out.tsv`);
  assertEquals(copiedOut.split("\n").length - 1, 5, "COPY TO wrote the 5 rows then in the table");

  const wrong = await psql(db, ["-c", "SELECT 1"], { appName: "psql-wrong", password: "nope" });
  assertEquals(wrong.code, 2, `psql with a wrong password: ${wrong.stderr}`);
  assertMatch(wrong.stderr, /password authentication failed/);

  const events = await settledEvents(db.proxy, 2);
  assertEquals(duplicatePositions(events), [], "no source_pos stored twice");
  const session = sessionOf(events, "psql-script");
  const connect = events.find((e) => e.command === "CONNECT" && e.session_id === session)!;
  assertEquals(
    [connect.kind, connect.role, connect.db, connect.client_addr],
    ["session", db.pg.superuser, "postgres", "127.0.0.1"],
    `CONNECT: ${JSON.stringify(brief(connect))}`,
  );
  const ends = events.filter((e) => e.command === "DISCONNECT" && e.session_id === session);
  assertEquals(ends.map((e) => ctx(e, "reason")), ["client"], "psql ended its session itself");
  const auth = events.filter((e) => e.kind === "auth" && e.session_id === session);
  assertEquals(auth.map((e) => e.command), ["AUTH_OK"], "the script's session authenticated");

  const statements = statementsOf(events, session);
  const expected: [string, string, number | null, string][] = [
    // statement (prefix), tag, rows (null: none), transaction state after
    ["CREATE TABLE items", "CREATE TABLE", null, "I"],
    ["INSERT INTO items VALUES (10", "INSERT 0 2", 2, "I"],
    ["SELECT id, note FROM items", "SELECT 2", 2, "I"],
    ["UPDATE items SET note = 'TEN'", "UPDATE 1", 1, "I"],
    ["SELECT 1 / 0", "", null, "I"],
    ["COPY items FROM STDIN", "COPY 3", 3, "I"],
    ["COPY items TO STDOUT", "COPY 5", 5, "I"],
    ["BEGIN", "BEGIN", null, "T"],
    ["DELETE FROM items WHERE id < 10", "DELETE 3", 3, "T"],
    ["COMMIT", "COMMIT", null, "I"],
  ];
  assertEquals(
    statements.length,
    expected.length,
    `one event per statement: ${JSON.stringify(statements.map(brief))}`,
  );
  expected.forEach(([text, tag, count, tx], i) => {
    const e = statements[i]!;
    const what = `statement ${i}: ${JSON.stringify(brief(e))}`;
    // psql writes `\copy` as `COPY  items FROM STDIN ` (two spaces): compare words.
    assert(String(e.statement).replace(/\s+/g, " ").trim().startsWith(text), what);
    assertEquals(ctx(e, "protocol"), "simple", what);
    assertEquals(ctx(e, "tx_status"), tx, what);
    assert(typeof ctx(e, "duration_us") === "number", what);
    if (tag === "") {
      assertEquals([e.sqlstate, e.command], ["22012", "SELECT"], what);
      assertMatch(String(e.error), /division by zero/, what);
      return;
    }
    assertEquals(ctx(e, "tag"), tag, what);
    // A verb of two words ("CREATE TABLE") may be recorded whole or by its first word.
    assert(tag.startsWith(String(e.command)) && e.command !== "", what);
    if (count !== null) assertEquals(ctx(e, "rows"), count, what);
    assertEquals(e.sqlstate, undefined, what);
  });
  const [copyIn, copyOut] = [statements[5]!, statements[6]!];
  assertEquals(copyIn.command, "COPY");
  assertEquals(ctx(copyIn, "bytes_in"), new TextEncoder().encode(rows).length, "bytes psql sent");
  assertEquals(
    ctx(copyOut, "bytes_out"),
    new TextEncoder().encode(copiedOut).length,
    "bytes psql received",
  );

  const failed = events.filter((e) => e.command === "AUTH_FAILED");
  assertEquals(failed.length, 1, `one AUTH_FAILED: ${JSON.stringify(events.map(brief))}`);
  assertEquals([failed[0]!.kind, failed[0]!.role, failed[0]!.sqlstate], [
    "auth",
    db.pg.superuser,
    "28P01",
  ]);
  assertEquals(
    statementsOf(events, String(failed[0]!.session_id)),
    [],
    "nothing ran in the refused session",
  );
});

Deno.test("proxy forwards psql's cancel to the server and records it", async () => {
  await using db = await startProxied("observe");
  const child = psqlCommand(db, ["-c", "SELECT pg_sleep(120)"], { appName: "psql-cancel" })
    .spawn();
  const output = child.output();
  // SIGINT makes psql send a CancelRequest on a new connection to where it connected: the proxy.
  await assertEventually(async () =>
    (await db.pg.sql(
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'psql-cancel' " +
        "AND state = 'active' AND query LIKE '%pg_sleep%'",
    )) === "1", { timeoutMs: 60_000, message: "the sleep runs on the server" });
  child.kill("SIGINT");
  const out = await output;
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 1, `psql after its cancel: ${stderr}`);
  assertMatch(stderr, /canceling statement due to user request/);

  const events = await settledEvents(db.proxy, 1);
  const session = sessionOf(events, "psql-cancel");
  const sleep = statementsOf(events, session);
  assertEquals(sleep.length, 1, JSON.stringify(sleep.map(brief)));
  assertEquals(
    [sleep[0]!.statement, sleep[0]!.sqlstate],
    ["SELECT pg_sleep(120)", "57014"],
    JSON.stringify(brief(sleep[0]!)),
  );
  const cancels: AuditEvent[] = events.filter(isCommand("CANCEL"));
  assertEquals(cancels.length, 1, `one CANCEL: ${JSON.stringify(events.map(brief))}`);
  assertEquals(cancels[0]!.kind, "session");
  assertEquals(cancels[0]!.session_id, session, "the CANCEL names the session it cancelled");
  assertEquals(ctx(cancels[0]!, "matched"), true, "the key was one this proxy handed out");
});
