/**
 * The WAL client never hands a password to a server it has not verified: asked for it in clear
 * text or as md5 — by a listener of our own on 127.0.0.1 that stands in for someone's, and by
 * a real PostgreSQL 15 whose pg_hba.conf says `password` or `md5` — it refuses before sending
 * anything, unless the connection is TLS with the server's certificate verified
 * (`sslmode=verify-full` or `verify-ca`). SCRAM, where the server must prove it knows the
 * password, stays allowed without TLS.
 */

import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../support/assert.ts";
import { enableTls } from "../../support/pg_tls.ts";
import { type AuthMethod, type PgCluster, startPostgres } from "../../support/postgres.ts";
import { connect, type ConnectOptions, parseDsn } from "../../../daemon/pgwire/connection.ts";
import { ReplicationError } from "../../../daemon/pgwire/errors.ts";

const PASSWORD = "stored-pw-4711";

/**
 * A server of its own on 127.0.0.1: reads the startup message, asks for the password with
 * `request` (an AuthenticationCleartextPassword or AuthenticationMD5Password message), then
 * keeps every byte the client sends until it closes.
 */
function passwordCatcher(request: Uint8Array): {
  port: number;
  received: () => Promise<Uint8Array>;
  [Symbol.asyncDispose](): Promise<void>;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const chunks: Uint8Array[] = [];
  const served = (async () => {
    const conn = await listener.accept();
    try {
      const buf = new Uint8Array(64 * 1024);
      let startup = 0;
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) return;
        const got = buf.slice(0, n);
        if (startup === 0) {
          startup = new DataView(got.buffer).getInt32(0);
          await conn.write(request);
          chunks.push(got.subarray(startup));
        } else chunks.push(got);
      }
    } catch {
      /* the client went away */
    } finally {
      conn.close();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received: async () => {
      await served;
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) (all.set(c, at), at += c.length);
      return all;
    },
    [Symbol.asyncDispose]: async () => {
      listener.close();
      await served.catch(() => {});
    },
  };
}

/** An Authentication message: 'R', length, code, then `extra` (the md5 salt). */
function authRequest(code: number, extra: number[] = []): Uint8Array {
  const out = new Uint8Array(9 + extra.length);
  const view = new DataView(out.buffer);
  out[0] = 0x52;
  view.setInt32(1, 8 + extra.length);
  view.setInt32(5, code);
  out.set(extra, 9);
  return out;
}

for (
  const [name, request, method] of [
    ["clear text", authRequest(3), "in clear text"],
    ["md5", authRequest(5, [1, 2, 3, 4]), "as md5"],
  ] as const
) {
  Deno.test(`connect() refuses a server of its own asking for the password ${name}, sending nothing`, async () => {
    await using catcher = passwordCatcher(request);
    const error = await assertRejects(
      () =>
        connect({
          host: "127.0.0.1",
          port: catcher.port,
          user: "vigil",
          password: PASSWORD,
          database: "billing",
          sslmode: "disable",
          connectTimeoutMs: 5000,
        }),
      ReplicationError,
    );
    assertEquals(error.stage, "auth");
    assertStringIncludes(error.message, `asks for the password ${method}`);
    assertStringIncludes(error.message, "sslmode=verify-full");
    assertStringIncludes(error.message, "this connection: sslmode=disable");
    const sent = await catcher.received();
    assertEquals(sent.length, 0, `the client sent ${sent.length} bytes after the request`);
  });
}

/** The superuser's options on `pg`, with changes. */
function options(pg: PgCluster, change: Partial<ConnectOptions> = {}): ConnectOptions {
  return { ...parseDsn(pg.dsn()), connectTimeoutMs: 10_000, ...change };
}

async function whoAmI(opts: ConnectOptions): Promise<string | null | undefined> {
  const conn = await connect(opts);
  try {
    return (await conn.query("SELECT current_user")).rows[0]?.[0];
  } finally {
    await conn.close();
  }
}

for (const method of ["password", "md5"] as const satisfies readonly AuthMethod[]) {
  const label = method === "password" ? "clear-text" : "md5";
  Deno.test(`connect() sends a ${label} password to PostgreSQL only over verified TLS`, async (t) => {
    await using pg = await startPostgres({ authMethod: method });
    const asked = method === "password" ? "in clear text" : "as md5";

    await t.step("without TLS: refused, naming the fix", async () => {
      const error = await assertRejects(() => whoAmI(options(pg)), ReplicationError);
      assertEquals(error.stage, "auth");
      assertStringIncludes(error.message, `asks for the password ${asked}`);
      assertStringIncludes(error.message, "scram-sha-256");
      assert(!error.message.includes(pg.password), "the message holds no password");
    });

    const ca = await enableTls(pg);

    await t.step("TLS whose host name is not checked (sslmode=require): refused", async () => {
      const error = await assertRejects(
        () => whoAmI(options(pg, { sslmode: "require", sslrootcert: ca })),
        ReplicationError,
      );
      assertStringIncludes(error.message, "this connection: sslmode=require");
    });

    await t.step("verify-full and verify-ca: the login works", async () => {
      assertEquals(
        await whoAmI(options(pg, { sslmode: "verify-full", sslrootcert: ca })),
        "postgres",
      );
      assertEquals(
        await whoAmI(options(pg, { sslmode: "verify-ca", sslrootcert: ca })),
        "postgres",
      );
    });

    await t.step("the server really asked for that method", async () => {
      const hba = await pg.sql(
        "SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE type = 'host'",
      );
      assertEquals(hba, method);
      if (method === "md5") {
        const stored = await pg.sql("SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'");
        assert(
          stored.startsWith("md5"),
          "an md5 secret, so the server does not fall back to SCRAM",
        );
      }
    });
  });
}

Deno.test("connect() still logs in by SCRAM without TLS: the server proves it knows the password", async () => {
  await using pg = await startPostgres({ authMethod: "scram-sha-256" });
  assertEquals(await whoAmI(options(pg)), "postgres");
});
