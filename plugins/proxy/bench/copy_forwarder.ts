/**
 * The runtime's ceiling for `vigil bench proxy`: a TCP forwarder written on Deno's socket API
 * that copies bytes both ways and does nothing else — no protocol, no recording, no store. The
 * bench runs it beside pgbouncer, as a process of its own listening on 127.0.0.1, so that the
 * proxy's TPS can be read against what any forwarder on this runtime reaches on the same machine
 * in the same run: the part of the gap to pgbouncer that is the runtime's own (an asynchronous
 * read and write a message each way, each a wake-up of the event loop) apart from the part that
 * is the proxy's work.
 *
 * Promises: each accepted connection is forwarded to the upstream port with `TCP_NODELAY` on
 * both sides, as the proxy's are, through a 64 KiB buffer a direction (the proxy's read size);
 * either side closing closes both. Run as a script: `copy_forwarder.ts LISTEN_PORT UPSTREAM_PORT`.
 */

import { freePort, portBound } from "./ports.ts";

/** A running copy forwarder. */
export interface CopyForwarder extends AsyncDisposable {
  readonly port: number;
  readonly pid: number;
}

/** Starts the forwarder in a process of its own; resolves once it listens. */
export async function startCopyForwarder(opts: { upstreamPort: number }): Promise<CopyForwarder> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-net=127.0.0.1",
      new URL(import.meta.url).pathname,
      String(port),
      String(opts.upstreamPort),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let exited = false;
  child.status.then(() => (exited = true));
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // It had exited.
    }
    await child.status;
    return await stderr;
  };
  const deadline = performance.now() + 30_000;
  while (!portBound(port)) {
    if (exited || performance.now() > deadline) {
      throw new Error(`the copy forwarder did not listen on 127.0.0.1:${port}: ${await stop()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { port, pid: child.pid, [Symbol.asyncDispose]: async () => void await stop() };
}

/** Copies `from` to `to` until `from` ends or either fails, then half-closes `to`. */
async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      for (let off = 0; off < n;) off += await to.write(buf.subarray(off, n));
    }
  } catch {
    // A reset or a close from the other side: the session is over either way.
  }
  try {
    await to.closeWrite();
  } catch {
    // Closed already.
  }
}

async function forward(client: Deno.TcpConn, upstreamPort: number): Promise<void> {
  let server: Deno.TcpConn | undefined;
  try {
    client.setNoDelay(true);
    server = await Deno.connect({ hostname: "127.0.0.1", port: upstreamPort });
    server.setNoDelay(true);
    await Promise.all([pump(client, server), pump(server, client)]);
  } catch (error) {
    console.error(`copy forwarder: ${error}`);
  } finally {
    for (const c of [client, server]) {
      try {
        c?.close();
      } catch {
        // Closed already.
      }
    }
  }
}

if (import.meta.main) {
  const [listen, upstream] = Deno.args.map(Number);
  if (!Number.isInteger(listen) || !Number.isInteger(upstream)) {
    console.error("usage: copy_forwarder.ts LISTEN_PORT UPSTREAM_PORT");
    Deno.exit(2);
  }
  for await (const client of Deno.listen({ hostname: "127.0.0.1", port: listen! })) {
    void forward(client, upstream!);
  }
}
