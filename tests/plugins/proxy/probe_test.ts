/**
 * "Test connection" of a proxy source: it finds a PostgreSQL server upstream (and checks its
 * TLS as the source would), sees whether the listen address is free, tells an unreachable
 * upstream without the system's reason, and never throws.
 */

import { PROXY_PLUGIN } from "../../../plugins/proxy/mod.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { enableTls } from "../../support/pg_tls.ts";
import { startPostgres } from "../../support/postgres.ts";
import { freePort } from "../../support/ports.ts";

Deno.test("proxy probe finds the upstream server, plain and over verified TLS", async () => {
  await using pg = await startPostgres();
  const listen = `127.0.0.1:${freePort()}`;
  const plain = await PROXY_PLUGIN.probe({
    name: "p",
    type: "proxy",
    listen,
    upstream: `postgres://127.0.0.1:${pg.port}/`,
  });
  assertEquals(plain.ok, true, plain.lines.join("\n"));
  assert(plain.lines.some((l) => l.includes("answers as a PostgreSQL server")), plain.lines.join());
  assert(plain.lines.some((l) => l === `listen ${listen}: free`), plain.lines.join());
  const ca = await enableTls(pg);
  const tls = await PROXY_PLUGIN.probe({
    name: "p",
    type: "proxy",
    listen,
    upstream: `postgres://127.0.0.1:${pg.port}/?sslmode=verify-full&sslrootcert=${ca}`,
  });
  assertEquals(tls.ok, true, tls.lines.join("\n"));
  assert(tls.lines.some((l) => l.includes("TLS with a verified certificate")), tls.lines.join());
});

Deno.test("proxy probe reports an unreachable upstream and a bad table without throwing", async () => {
  const closed = freePort();
  const down = await PROXY_PLUGIN.probe({
    name: "p",
    type: "proxy",
    listen: `127.0.0.1:${freePort()}`,
    upstream: `postgres://127.0.0.1:${closed}/`,
  });
  assertEquals(down.ok, false);
  const line = down.lines.find((l) => l.startsWith("upstream"))!;
  assertEquals(
    line,
    `upstream 127.0.0.1:${closed}: no PostgreSQL server answered (sslmode=disable)`,
  );
  const bad = await PROXY_PLUGIN.probe({ name: "p", type: "proxy", listen: "x" });
  assertEquals(bad.ok, false);
  assert(bad.lines[0]!.startsWith("configuration: "), bad.lines[0]);
});
