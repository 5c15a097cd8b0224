/**
 * TLS on a harness cluster: a CA and a server certificate for 127.0.0.1 made in the test, so
 * that clients can be checked with `sslmode=verify-full` against a CA nobody else trusts.
 */

import { join } from "node:path";
import { assertEventually } from "./assert.ts";
import type { PgCluster } from "./postgres.ts";

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * Makes a CA and a server certificate for IP 127.0.0.1 in the data dir (owned by the server's
 * user, key 0600, as PostgreSQL demands), turns ssl on with a reload, and returns the CA's path.
 */
export async function enableTls(pg: PgCluster): Promise<string> {
  const dir = pg.dataDir;
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await run("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=vigil test CA",
  ], dir);
  await run("openssl", [
    "req",
    ...ec,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  ], dir);
  await Deno.writeTextFile(
    join(dir, "server.ext"),
    "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "server.ext",
  ], dir);
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
