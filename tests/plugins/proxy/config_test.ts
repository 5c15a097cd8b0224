/**
 * The proxy source's configuration: the documented keys and defaults, and a `TypeError` that
 * names the key for every value it refuses — credentials or a database in `upstream`, a
 * listen address off loopback without TLS, an unknown mode or key.
 */

import { PROXY_PLUGIN, proxyConfigFromTable } from "../../../plugins/proxy/mod.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";

const base = {
  name: "p",
  type: "proxy",
  listen: "127.0.0.1:6432",
  upstream: "postgres://db1:5432/",
};

Deno.test("proxyConfigFromTable() reads the keys and fills in the defaults", () => {
  const s = proxyConfigFromTable({
    ...base,
    upstream: "postgres://db1:5433/?sslmode=verify-full&sslrootcert=/etc/vigil/db1-ca.pem",
  });
  assertEquals(s.listen, { hostname: "127.0.0.1", port: 6432, loopback: true });
  assertEquals(s.server.host, "db1");
  assertEquals(s.server.port, 5433);
  assertEquals(s.server.sslmode, "verify-full");
  assertEquals(s.server.sslrootcert, "/etc/vigil/db1-ca.pem");
  assertEquals(s.mode, "observe");
  assertEquals([s.tlsCert, s.tlsKey], [null, null]);
  assertEquals(s.recordBytes, 65536);
  assertEquals(proxyConfigFromTable({ ...base, mode: "enforce" }).mode, "enforce");
});

Deno.test("proxyConfigFromTable() refuses bad tables, naming the key", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ ...base, upstream: "postgres://vigil:secret@db1:5432/" }, '"upstream"'],
    [{ ...base, upstream: "postgres://vigil@db1:5432/" }, "user or password"],
    [{ ...base, upstream: "postgres://db1:5432/?user=bob" }, "user or password"],
    [{ ...base, upstream: "postgres://db1:5432/?password=x" }, "user or password"],
    [{ ...base, upstream: "postgres://db1:5432/billing" }, "may not name a database"],
    [{ ...base, upstream: "postgres://db1:5432/?sslmode=prefer" }, "sslmode"],
    [{ ...base, upstream: "mysql://db1/" }, '"upstream"'],
    [{ ...base, listen: "0.0.0.0:6432" }, '"tls_cert"'],
    [{ ...base, listen: "6432" }, '"listen"'],
    [{ ...base, tls_cert: "/etc/vigil/proxy.crt" }, "go together"],
    [{ ...base, mode: "audit" }, '"mode"'],
    [{ ...base, record_bytes: 10 }, '"record_bytes"'],
    [{ ...base, listne: "x" }, 'Unknown key "listne"'],
    [
      { name: "p", type: "proxy", listen: "127.0.0.1:6432" },
      '"upstream" in proxy source "p": it is required',
    ],
  ];
  for (const [table, message] of cases) {
    assertThrows(() => proxyConfigFromTable(table), { instanceOf: TypeError, message });
  }
  // The password never appears in the message.
  try {
    proxyConfigFromTable({ ...base, upstream: "postgres://vigil:secret@db1:5432/" });
  } catch (e) {
    assertEquals((e as Error).message.includes("secret"), false);
  }
});

Deno.test("a non-loopback listen address with TLS is accepted; permissions name what it reaches", () => {
  const table = {
    ...base,
    listen: "10.0.0.5:6432",
    upstream: "postgres://db1:5432/?sslmode=verify-full&sslrootcert=/etc/vigil/db1-ca.pem",
    tls_cert: "/etc/vigil/proxy.crt",
    tls_key: "/etc/vigil/proxy.key",
  };
  assertEquals(proxyConfigFromTable(table).listen.loopback, false);
  const wanted = {
    read: ["/etc/vigil/proxy.crt", "/etc/vigil/proxy.key", "/etc/vigil/db1-ca.pem"],
    net: ["10.0.0.5:6432", "db1:5432"],
  };
  const reach = PROXY_PLUGIN.reach(table);
  assertEquals(reach.net.slice().sort(), wanted.net.slice().sort());
  assertEquals(reach.read.map((r) => r.path).sort(), wanted.read.slice().sort());
});
