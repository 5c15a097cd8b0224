/**
 * TLS on a harness cluster: a CA and a server certificate for 127.0.0.1 made in the test, so
 * that clients can be checked with `sslmode=verify-full` against a CA nobody else trusts.
 */

import { join } from "node:path";
import { assertEventually } from "./assert.ts";
import type { PgCluster } from "./postgres.ts";
import { makeTestCerts } from "./test_ca.ts";

/**
 * Makes a CA and a server certificate for IP 127.0.0.1 in the data dir (owned by the server's
 * user, key 0600, as PostgreSQL demands), turns ssl on with a reload, and returns the CA's path.
 */
export async function enableTls(pg: PgCluster): Promise<string> {
  const dir = pg.dataDir;
  await makeTestCerts(dir, "server", "vigil test CA");
  const { uid, gid } = await Deno.stat(dir);
  for (const name of ["server.crt", "server.key"]) {
    await Deno.chmod(join(dir, name), 0o600);
    if (uid !== null && gid !== null) await Deno.chown(join(dir, name), uid, gid);
  }
  await pg.sql(
    "ALTER SYSTEM SET ssl = on; ALTER SYSTEM SET ssl_cert_file = 'server.crt'; " +
      "ALTER SYSTEM SET ssl_key_file = 'server.key'",
  );
  await pg.sql("SELECT pg_reload_conf()");
  await assertEventually(async () => (await pg.sql("SHOW ssl")) === "on", { message: "ssl on" });
  return join(dir, "ca.crt");
}
