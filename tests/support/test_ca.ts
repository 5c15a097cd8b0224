/**
 * A throwaway CA and one server certificate for IP 127.0.0.1, made with openssl in a test, so
 * that clients can be checked with full verification against a CA nobody else trusts (the
 * PostgreSQL TLS harness, the SMTP relay).
 */

import { join } from "node:path";

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * Writes `ca.crt`/`ca.key` (subject `caName`) and `<server>.crt`/`<server>.key`, a P-256 server
 * certificate for IP 127.0.0.1 signed by that CA, into `dir`; both valid for 2 days.
 */
export async function makeTestCerts(dir: string, server: string, caName: string): Promise<void> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl(
    [
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
      `/CN=${caName}`,
    ],
    dir,
  );
  await openssl(
    ["req", ...ec, "-keyout", `${server}.key`, "-out", `${server}.csr`, "-subj", "/CN=127.0.0.1"],
    dir,
  );
  await Deno.writeTextFile(
    join(dir, `${server}.ext`),
    "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    `${server}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    `${server}.crt`,
    "-days",
    "2",
    "-extfile",
    `${server}.ext`,
  ], dir);
}
