/**
 * The real clients over TLS to the proxy, each verifying its certificate against a CA made for
 * the test (`verify-full` for IP 127.0.0.1): libpq through psycopg, Java's TLS through pgjdbc
 * and Deno's through postgres.js — three TLS stacks against the proxy's. Each runs its usual
 * program, gets the same answers as in the clear, and its session is recorded as TLS with its
 * statements.
 */

import postgres from "postgres";
import { assert, assertEquals } from "../../support/assert.ts";
import {
  brief,
  ctx,
  type ProxiedCluster,
  sessionOf,
  settledEvents,
  startProxied,
  statementsOf,
} from "../../support/proxy_clients.ts";

const PYTHON = "/usr/bin/python3";
const PSYCOPG_CLIENT = new URL("./clients/psycopg_client.py", import.meta.url).pathname;
const JDBC_JAR = "/usr/share/java/postgresql.jar";
const JDBC_CLIENT = new URL("./clients/JdbcClient.java", import.meta.url).pathname;

async function runs(program: string, args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(program, { args, stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}

const psycopg = await runs(PYTHON, ["-c", "import psycopg"]);
const jdbc = await runs("java", ["-version"]) &&
  await Deno.stat(JDBC_JAR).then(() => true, () => false);
if (!psycopg) console.warn("SKIPPED psycopg over TLS: no python3-psycopg (setup.sh --tests)");
if (!jdbc) console.warn("SKIPPED JDBC over TLS: no java or no JDBC driver (setup.sh --tests)");

/** The one session of `app`, checked to be TLS; its statements. */
async function tlsSession(db: ProxiedCluster, app: string) {
  const events = await settledEvents(db.proxy, 1);
  const session = sessionOf(events, app);
  const connect = events.find((e) => e.command === "CONNECT" && e.session_id === session)!;
  assertEquals(ctx(connect, "tls"), true, `CONNECT over TLS: ${JSON.stringify(brief(connect))}`);
  assertEquals(
    events.filter((e) => e.session_id === session && e.kind === "auth").map((e) => e.command),
    ["AUTH_OK"],
  );
  return statementsOf(events, session);
}

Deno.test({
  name: "psycopg (libpq) verifies the proxy's certificate and is recorded as a TLS session",
  ignore: !psycopg,
  fn: async () => {
    await using db = await startProxied("observe", { tls: true });
    // libpq's defaults otherwise, channel binding included: the upstream link is not TLS, so
    // the server offers none and the client's "supported, not offered" is accepted.
    const conninfo = `host=127.0.0.1 port=${db.proxy.port} dbname=postgres ` +
      `user=${db.pg.superuser} password=${db.pg.password} ` +
      `sslmode=verify-full sslrootcert=${db.caPath}`;
    const out = await new Deno.Command(PYTHON, {
      args: [PSYCOPG_CLIENT, conninfo],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert(out.success, `psycopg over TLS failed: ${dec.decode(out.stderr)}`);
    const seen = JSON.parse(dec.decode(out.stdout));
    assertEquals([seen.binary_insert, seen.pipeline_error, seen.left], [
      { returned: 7, status: "INSERT 0 1" },
      "23505",
      [7],
    ]);
    const statements = await tlsSession(db, "psycopg-client");
    const inserts = statements.filter((e) =>
      String(e.statement).startsWith("INSERT INTO py_items")
    );
    assertEquals(
      inserts.map((e) => e.params?.[0]),
      ["7", "1", "2", "1"],
      JSON.stringify(inserts.map(brief)),
    );
  },
});

Deno.test({
  name: "pgjdbc (Java's TLS) verifies the proxy's certificate and is recorded as a TLS session",
  ignore: !jdbc,
  fn: async () => {
    await using db = await startProxied("observe", { tls: true });
    const url = `jdbc:postgresql://127.0.0.1:${db.proxy.port}/postgres` +
      "?ApplicationName=jdbc-client&assumeMinServerVersion=10&prepareThreshold=3" +
      `&ssl=true&sslmode=verify-full&sslrootcert=${encodeURIComponent(db.caPath!)}`;
    const out = await new Deno.Command("java", {
      args: ["-cp", JDBC_JAR, JDBC_CLIENT, url, db.pg.superuser, db.pg.password],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert(out.success, `JDBC over TLS failed: ${dec.decode(out.stderr)}`);
    assertEquals(JSON.parse(dec.decode(out.stdout)).total, 55_020);
    const statements = await tlsSession(db, "jdbc-client");
    const inserts = statements.filter((e) =>
      String(e.statement).startsWith("INSERT INTO jdbc_items")
    );
    assertEquals(inserts.length, 10, JSON.stringify(statements.map(brief)));
    assertEquals(inserts[9]!.params, ["10", "item 10", "10000"]);
  },
});

Deno.test("postgres.js (Deno's TLS) verifies the proxy's certificate and is recorded as a TLS session", async () => {
  await using db = await startProxied("observe", { tls: true });
  const sql = postgres(db.dsn({ appName: "postgresjs-tls" }), {
    max: 1,
    // postgres.js sends no server name for an IP address; `host` is what the certificate's
    // names are checked against (else "localhost").
    ssl: { ca: await Deno.readTextFile(db.caPath!), rejectUnauthorized: true, host: "127.0.0.1" },
    onnotice: () => {},
  });
  try {
    const rows = await sql`SELECT ${41}::int + 1 AS answer, ${"ünïcode"}::text AS text`;
    assertEquals([rows[0]!.answer, rows[0]!.text], [42, "ünïcode"]);
  } finally {
    await sql.end();
  }
  const statements = await tlsSession(db, "postgresjs-tls");
  const select = statements.filter((e) => String(e.statement).startsWith("SELECT $1::int + 1"));
  assertEquals(
    select.map((e) => e.params),
    [["41", "ünïcode"]],
    JSON.stringify(statements.map(brief)),
  );
});
