/**
 * Login through the proxy: clients authenticate end to end (SCRAM passes through, a wrong
 * password is recorded as AUTH_FAILED with the server's SQLSTATE), a clear-text or md5
 * password is never relayed over an upstream link whose certificate the proxy did not verify
 * (and is, over `verify-full`), and clients reach the proxy over TLS with its certificate —
 * SCRAM included, with channel binding off (a client that wants it is told so).
 */

import { join } from "node:path";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { enableTls } from "../../support/pg_tls.ts";
import { type AuthMethod, startPostgres } from "../../support/postgres.ts";
import { makeTestCerts } from "../../support/test_ca.ts";
import { psql, startProxy } from "./_harness.ts";

Deno.test("proxy source passes SCRAM through and records the login's outcome", async () => {
  await using pg = await startPostgres({ passwordAuth: true });
  await using proxy = await startProxy(pg);
  const ok = await psql(proxy.port, ["-c", "SELECT current_user"], {
    password: pg.password,
    conninfo: "sslmode=disable options='-c pgaudit.log=none'",
  });
  assertEquals(ok.stdout, "postgres\n", ok.stderr);
  const bad = await psql(proxy.port, ["-c", "SELECT 1"], { password: "wrong" });
  assertEquals(bad.code, 2);
  assert(bad.stderr.includes("password authentication failed"), bad.stderr);
  await assertEventually(() => proxy.store.of("DISCONNECT").length === 2);
  await proxy.stop();
  assertEquals(proxy.store.of("AUTH_OK").length, 1);
  // A session that turned pgAudit off for itself at startup says so.
  assertEquals(proxy.store.of("CONNECT")[0]!.context?.startup, { options: "-c pgaudit.log=none" });
  const [failed] = proxy.store.of("AUTH_FAILED");
  assertEquals(failed?.kind, "auth");
  assertEquals(failed?.sqlstate, "28P01");
  assertEquals(failed?.role, "postgres");
  assert(!JSON.stringify(proxy.store.events).includes(pg.password), "no password recorded");
});

for (const method of ["md5", "password"] as const satisfies readonly AuthMethod[]) {
  Deno.test(`proxy source refuses to relay a ${method} password without verified TLS`, async () => {
    await using pg = await startPostgres({ authMethod: method });
    await using proxy = await startProxy(pg);
    const r = await psql(proxy.port, ["-c", "SELECT 1"], { password: pg.password });
    assertEquals(r.code, 2);
    assert(r.stderr.includes("relays only over TLS"), r.stderr);
    await assertEventually(() => proxy.store.of("DISCONNECT").length === 1);
    await proxy.stop();
    const [failed] = proxy.store.of("AUTH_FAILED");
    assertEquals(failed?.sqlstate, "28000");
    assertEquals(failed?.context?.method, method);
    assertEquals(proxy.store.of("AUTH_OK").length, 0);
  });
}

Deno.test("proxy source relays md5 over verify-full TLS to the upstream", async () => {
  await using pg = await startPostgres({ authMethod: "md5" });
  const ca = await enableTls(pg);
  await using proxy = await startProxy(pg, {
    upstream: `postgres://127.0.0.1:${pg.port}/?sslmode=verify-full&sslrootcert=${ca}`,
  });
  const r = await psql(proxy.port, [
    "-c",
    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
  ], {
    password: pg.password,
  });
  assertEquals(r.stdout, "t\n", r.stderr);
  await assertEventually(() => proxy.store.of("DISCONNECT").length === 1);
  await proxy.stop();
  assertEquals(proxy.store.of("AUTH_OK").length, 1);
});

Deno.test("proxy source speaks TLS to clients, SCRAM included, over TLS upstream", async () => {
  await using pg = await startPostgres({ passwordAuth: true });
  const upstreamCa = await enableTls(pg);
  const dir = await Deno.makeTempDir({ prefix: "vigil-proxy-tls-" });
  try {
    await makeTestCerts(dir, "proxy", "vigil proxy test CA");
    await using proxy = await startProxy(pg, {
      upstream: `postgres://127.0.0.1:${pg.port}/?sslmode=verify-full&sslrootcert=${upstreamCa}`,
      tls_cert: join(dir, "proxy.crt"),
      tls_key: join(dir, "proxy.key"),
    });
    const verified = `sslmode=verify-full sslrootcert=${join(dir, "ca.crt")}`;
    // SCRAM's channel binding exists to catch a party in the middle, and the proxy is one:
    // over TLS on both sides, a client logs in with channel binding off.
    const r = await psql(proxy.port, ["-c", "SELECT 'over tls'"], {
      conninfo: `${verified} channel_binding=disable`,
      password: pg.password,
    });
    assertEquals(r.stdout, "over tls\n", r.stderr);
    const prefer = await psql(proxy.port, ["-c", "SELECT 1"], {
      conninfo: verified,
      password: pg.password,
    });
    assertEquals(prefer.code, 2);
    assert(prefer.stderr.includes("channel_binding=disable"), prefer.stderr);
    // On a loopback listen address, a client without TLS is still let in.
    const plain = await psql(proxy.port, ["-c", "SELECT 'plain'"], { password: pg.password });
    assertEquals(plain.stdout, "plain\n", plain.stderr);
    await assertEventually(() => proxy.store.of("DISCONNECT").length === 3);
    await proxy.stop();
    const connects = proxy.store.of("CONNECT");
    assertEquals(connects.map((e) => e.context?.tls), [true, true, false]);
    assertEquals(proxy.store.of("AUTH_OK").length, 2);
    assertEquals(proxy.store.of("AUTH_FAILED")[0]?.context?.method, "scram-sha-256");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
