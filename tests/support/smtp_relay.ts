/**
 * A real SMTP relay with STARTTLS and AUTH on 127.0.0.1 for the mail channel's tests: Debian's
 * python3-aiosmtpd (installed here with apt-get when missing), run unprivileged on a free port
 * with a certificate for 127.0.0.1 signed by a CA made in the test. It requires STARTTLS before
 * anything else and AUTH (PLAIN and LOGIN, or one of them) before mail, and writes each accepted
 * message as JSON into its spool directory, with whether TLS and AUTH were in force.
 *
 * @example
 * await using relay = await startSmtpRelay({ user: "vigil", password: "s3cret" });
 * // … send to 127.0.0.1:relay.port, trusting relay.caFile …
 * (await relay.messages())[0].data;
 */

import { join } from "node:path";
import { makeTestCerts } from "./test_ca.ts";

const PYTHON = "/usr/bin/python3";

/** One accepted message. */
export interface RelayMessage {
  from: string;
  to: string[];
  data: string;
  tls: boolean;
  /** The user that authenticated, or null. */
  login: string | null;
}

/** A running relay. */
export interface SmtpRelay extends AsyncDisposable {
  port: number;
  /** PEM of the CA that signed the relay's certificate. */
  caFile: string;
  messages(): Promise<RelayMessage[]>;
  close(): Promise<void>;
}

const SERVER_PY = `
import asyncio, json, os, ssl, sys
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

cert, key, user, password, spool, exclude = sys.argv[1:7]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        n = len(os.listdir(spool))
        path = os.path.join(spool, "%04d.json" % n)
        with open(path + ".tmp", "w") as f:
            json.dump({
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "data": envelope.content.decode("utf-8", "replace"),
                "tls": session.ssl is not None,
                "login": session.auth_data.login.decode() if session.authenticated else None,
            }, f)
        os.rename(path + ".tmp", path)
        return "250 OK queued"

def authenticator(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login.decode() == user \\
        and data.password.decode() == password
    return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(cert, key)

def factory():
    return SMTP(Handler(), hostname="relay.test", tls_context=tls, require_starttls=True,
                authenticator=authenticator, auth_required=True, auth_require_tls=True,
                auth_exclude_mechanism=[m for m in exclude.split(",") if m])

async def main():
    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    print("READY", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
`;

async function run(cmd: string, args: string[], cwd?: string): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    ...(cwd === undefined ? {} : { cwd }),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).slice(-2000);
    throw new Error(`${cmd} ${args.join(" ")} failed: ${err}`);
  }
}

/** Installs python3-aiosmtpd from Debian when the system Python lacks it. */
async function ensureAiosmtpd(): Promise<void> {
  const probe = await new Deno.Command(PYTHON, {
    args: ["-c", "import aiosmtpd"],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => ({ success: false }));
  if (probe.success) return;
  // scripts/setup.sh --tests installs it; this is for a test run on its own. Other tests may be
  // installing packages in parallel: wait for dpkg's lock rather than fail on it.
  const install = ["-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends"];
  try {
    await run("apt-get", [...install, "python3-aiosmtpd"]);
  } catch {
    await run("apt-get", ["-o", "DPkg::Lock::Timeout=300", "update", "-qq"]);
    await run("apt-get", [...install, "python3-aiosmtpd"]);
  }
}

/** Starts the relay; `exclude` names AUTH mechanisms it must not offer (`["PLAIN"]`). */
export async function startSmtpRelay(
  opts: { user: string; password: string; exclude?: string[] },
): Promise<SmtpRelay> {
  await ensureAiosmtpd();
  const dir = await Deno.makeTempDir({ prefix: "vigil-smtp-relay-" });
  const spool = join(dir, "spool");
  let child: Deno.ChildProcess | null = null;
  try {
    await Deno.mkdir(spool);
    await makeTestCerts(dir, "relay", "vigil test mail CA");
    await Deno.writeTextFile(join(dir, "relay.py"), SERVER_PY);
    child = new Deno.Command(PYTHON, {
      args: [
        join(dir, "relay.py"),
        join(dir, "relay.crt"),
        join(dir, "relay.key"),
        opts.user,
        opts.password,
        spool,
        (opts.exclude ?? []).join(","),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const port = await readyPort(child);
    const proc = child;
    const close = async () => {
      try {
        proc.kill("SIGTERM");
      } catch { /* already gone */ }
      await proc.status;
      await Deno.remove(dir, { recursive: true });
    };
    return {
      port,
      caFile: join(dir, "ca.crt"),
      async messages() {
        const names: string[] = [];
        for await (const e of Deno.readDir(spool)) if (e.name.endsWith(".json")) names.push(e.name);
        names.sort();
        return await Promise.all(
          names.map(async (n) => JSON.parse(await Deno.readTextFile(join(spool, n)))),
        );
      },
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (e) {
    if (child) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    }
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
}

/** Waits for `READY <port>` on the relay's stdout; the stderr pipe is drained meanwhile. */
async function readyPort(child: Deno.ChildProcess): Promise<number> {
  const errText: string[] = [];
  (async () => {
    for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) errText.push(c);
  })().catch(() => {});
  let buf = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`SMTP relay exited before it was ready: ${errText.join("")}`);
      buf += value;
      const m = /READY (\d+)/.exec(buf);
      if (m) {
        // Keep reading in the background so a full pipe never blocks the relay.
        (async () => {
          while (!(await reader.read()).done) { /* drain */ }
        })().catch(() => {});
        return Number(m[1]);
      }
    }
  } catch (e) {
    reader.releaseLock();
    throw e;
  }
}
