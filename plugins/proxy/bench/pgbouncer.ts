/**
 * Debian's pgbouncer as the proxy benchmark's reference: a pass-through connection pooler in
 * session mode, with no auditing, in front of a PostgreSQL on loopback. Its config and auth
 * file go to a directory of the caller's; it listens on 127.0.0.1 only, logs to its stderr
 * (kept to report a failed start) and is ready once its port takes connections. Started as
 * root it drops to the `postgres` user (pgbouncer refuses to run as root).
 */

import { freePort } from "./ports.ts";

/** Where Debian's package installs it. */
export const PGBOUNCER = "/usr/sbin/pgbouncer";

/** A running pgbouncer. */
export interface Pgbouncer extends AsyncDisposable {
  readonly port: number;
  readonly pid: number;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
}

/** Options of {@link startPgbouncer}. */
export interface PgbouncerOptions {
  /** An existing directory for the config and auth file. */
  dir: string;
  /** The server's loopback port and the one role the bench logs in as (trusted there). */
  upstreamPort: number;
  user: string;
  /** Server connections per database and user; at least the bench's clients. */
  poolSize: number;
}

/** Writes the config and starts pgbouncer; resolves once it accepts connections. */
export async function startPgbouncer(opts: PgbouncerOptions): Promise<Pgbouncer> {
  const port = freePort();
  const root = (await new Deno.Command("id", { args: ["-u"], stdout: "piped" }).output())
    .stdout;
  const asRoot = new TextDecoder().decode(root).trim() === "0";
  const auth = `${opts.dir}/userlist.txt`;
  await Deno.writeTextFile(auth, `${JSON.stringify(opts.user)} ""\n`);
  const ini = `${opts.dir}/pgbouncer.ini`;
  await Deno.writeTextFile(
    ini,
    [
      "[databases]",
      `* = host=127.0.0.1 port=${opts.upstreamPort}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${auth}`,
      "pool_mode = session",
      `max_client_conn = ${opts.poolSize + 10}`,
      `default_pool_size = ${opts.poolSize}`,
      "logfile =",
      "pidfile =",
      ...(asRoot ? ["user = postgres"] : []),
      "",
    ].join("\n"),
  );
  const child = new Deno.Command(PGBOUNCER, {
    args: [ini],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const logDone = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      log = (log + chunk).slice(-8000);
    }
  })();
  let exited = false;
  child.status.then(() => (exited = true));
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // It had exited.
    }
    await child.status;
    await logDone;
  };
  const deadline = performance.now() + 30_000;
  for (;;) {
    if (exited || performance.now() > deadline) {
      await stop();
      throw new Error(`pgbouncer did not start on 127.0.0.1:${port}: ${log}`);
    }
    if (log.includes("listening on 127.0.0.1")) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { port, pid: child.pid, stop, [Symbol.asyncDispose]: stop };
}
