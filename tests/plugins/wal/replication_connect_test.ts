/**
 * Logging in to a real PostgreSQL 15 on replication connections: SCRAM-SHA-256 with the right
 * and a wrong password, md5 and cleartext when pg_hba.conf asks for them (only over TLS with a
 * verified server), trust over the Unix socket, and TLS (refused when the server has none; CA
 * and host name checked when it has).
 */
import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../support/assert.ts";
import { enableTls } from "../../support/pg_tls.ts";
import { type PgCluster, startPostgres } from "../../support/postgres.ts";
import {
  connect,
  type ConnectOptions,
  parseDsn,
  PgError,
  ReplicationError,
} from "../../../daemon/pgwire/mod.ts";
import { connectReplication } from "../../../plugins/wal/replication.ts";

/** The superuser's replication DSN options, with changes. */
function options(pg: PgCluster, change: Partial<ConnectOptions> = {}): ConnectOptions {
  return { ...parseDsn(pg.dsn()), replication: "database", ...change };
}

/** Runs SQL on a fresh connection made with `opts`, and closes it. */
async function sqlVia(opts: ConnectOptions, sql: string): Promise<(string | null)[][]> {
  const conn = await connect(opts);
  try {
    return (await conn.query(sql)).rows;
  } finally {
    await conn.close();
  }
}

/** Adds pg_hba.conf lines in front of the harness's own and reloads the server. */
async function prependHba(pg: PgCluster, lines: string[]): Promise<void> {
  const path = join(pg.dataDir, "pg_hba.conf");
  const current = await Deno.readTextFile(path);
  await Deno.writeTextFile(path, `${lines.join("\n")}\n${current}`);
  await pg.sql("SELECT pg_reload_conf()");
}

Deno.test("connect() logs in to PostgreSQL 15 by SCRAM, md5, cleartext, trust and TLS", async (t) => {
  await using pg = await startPostgres({ passwordAuth: true });

  await t.step("SCRAM-SHA-256 with the right password opens a replication session", async () => {
    await using client = await connectReplication(pg.dsn());
    const conn = client.connection;
    assertEquals(conn.parameters.get("integer_datetimes"), "on");
    assertEquals(conn.parameters.get("client_encoding"), "UTF8");
    assertEquals(conn.parameters.get("TimeZone"), "UTC");
    assert(conn.backendPid > 0);
    const identity = await client.identifySystem();
    assertEquals(identity.dbName, "postgres");
    const rows = await conn.query(
      "SELECT backend_type, application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()",
    );
    assertEquals(rows.rows, [["walsender", ""]]);
  });

  await t.step("a wrong password fails with PgError 28P01 at stage auth", async () => {
    const error = await assertRejects(
      () => connect(options(pg, { password: "wrong" })),
      PgError,
    );
    assertEquals(error.code, "28P01");
    assertEquals(error.stage, "auth");
    assertEquals(error.severity, "FATAL");
    assertEquals(error.server, `127.0.0.1:${pg.port}`);
    assertStringIncludes(error.message, `Cannot log in as "postgres" to 127.0.0.1:${pg.port}`);
    assertStringIncludes(error.message, "password authentication failed");
  });

  await t.step("no password where the server asks for one fails at stage auth", async () => {
    const { password: _, ...rest } = options(pg);
    const error = await assertRejects(() => connect(rest), ReplicationError);
    assertEquals(error.stage, "auth");
    assertStringIncludes(error.message, "asks for a password (SCRAM-SHA-256) and none was given");
  });

  await t.step("md5 and cleartext logins are refused without TLS", async () => {
    await pg.sql(
      "SET password_encryption = 'md5'; " +
        "CREATE ROLE md5_user LOGIN REPLICATION PASSWORD 'md5 pw'; " +
        "CREATE ROLE clear_user LOGIN REPLICATION PASSWORD 'clear pw'",
    );
    await prependHba(pg, [
      "host all md5_user 127.0.0.1/32 md5",
      "host all clear_user 127.0.0.1/32 password",
    ]);
    for (const [user, password] of [["md5_user", "md5 pw"], ["clear_user", "clear pw"]] as const) {
      const error = await assertRejects(
        () => connect(options(pg, { user, password })),
        ReplicationError,
      );
      assertEquals(error.stage, "auth");
      assertStringIncludes(error.message, "only over TLS to a server whose certificate");
    }
  });

  await t.step("trust over the Unix socket needs no password", async () => {
    const { password: _, ...rest } = options(pg, { host: pg.socketDir });
    assertEquals(await sqlVia(rest, "SELECT 1"), [["1"]]);
  });

  await t.step("sslmode=require refuses a server without TLS", async () => {
    const error = await assertRejects(
      () => connect(options(pg, { sslmode: "require" })),
      ReplicationError,
    );
    assertEquals(error.stage, "connect");
    assertStringIncludes(error.message, "does not accept TLS connections");
  });

  const caFile = await enableTls(pg);
  const sslOf = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

  await t.step("sslmode=verify-full with the CA encrypts the session", async () => {
    const rows = await sqlVia(options(pg, { sslmode: "verify-full", sslrootcert: caFile }), sslOf);
    assertEquals(rows[0]?.[0], "t");
    const dsn = `${pg.dsn()}?sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile)}`;
    await using client = await connectReplication(dsn);
    assertEquals((await client.connection.query(sslOf)).rows[0]?.[0], "t");
  });

  await t.step("sslmode=verify-full refuses a certificate for another host name", async () => {
    const error = await assertRejects(
      () =>
        connect(options(pg, { host: "localhost", sslmode: "verify-full", sslrootcert: caFile })),
      ReplicationError,
    );
    assertEquals(error.stage, "connect");
    assertStringIncludes(error.message, "handshake failed");
    // verify-ca checks the chain only, so the same name passes.
    const rows = await sqlVia(
      options(pg, { host: "localhost", sslmode: "verify-ca", sslrootcert: caFile }),
      sslOf,
    );
    assertEquals(rows[0]?.[0], "t");
  });

  await t.step("sslmode=require without the CA fails: Deno always checks the chain", async () => {
    const error = await assertRejects(
      () => connect(options(pg, { sslmode: "require" })),
      ReplicationError,
    );
    assertStringIncludes(error.message, "handshake failed");
  });

  await t.step("md5 and cleartext logins work over TLS to a verified server", async () => {
    const who = "SELECT current_user";
    const tls = { sslmode: "verify-full", sslrootcert: caFile } as const;
    assertEquals(
      await sqlVia(options(pg, { user: "md5_user", password: "md5 pw", ...tls }), who),
      [["md5_user"]],
    );
    assertEquals(
      await sqlVia(options(pg, { user: "clear_user", password: "clear pw", ...tls }), who),
      [["clear_user"]],
    );
    const error = await assertRejects(
      () => connect(options(pg, { user: "md5_user", password: "nope", ...tls })),
      PgError,
    );
    assertEquals(error.code, "28P01");
  });

  await t.step("sslmode=disable still works where TLS is optional", async () => {
    assertEquals((await sqlVia(options(pg), sslOf))[0]?.[0], "f");
  });
});
