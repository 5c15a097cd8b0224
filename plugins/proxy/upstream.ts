/**
 * The proxy's connections to its upstream server: TCP, then TLS as the upstream URL's
 * `sslmode` asks (the shared `negotiateTls`, so `verify-full` means what it means for the WAL
 * source), within the URL's connect timeout. Whether the link is verified decides whether a
 * clear-text or md5 password may cross it.
 */

import { negotiateTls } from "../../daemon/pgwire/tls.ts";
import { cancelRequest } from "../../daemon/pgwire/backend_encode.ts";
import type { ProxySettings } from "./config.ts";
import { ConnChannel } from "./channel.ts";

/** A connection to the upstream server. */
export interface Upstream {
  channel: ConnChannel;
  /** TLS with the server's certificate checked against the trusted CAs. */
  verified: boolean;
  /** `sslmode=…`, for messages. */
  transport: string;
}

/** Reads the upstream's `sslrootcert` once per source run. */
export async function upstreamCaCerts(settings: ProxySettings): Promise<string[]> {
  const root = settings.server.sslrootcert;
  return root === undefined ? [] : [await Deno.readTextFile(root)];
}

/** Connects to the upstream; throws an `Error` saying why. */
export async function connectUpstream(
  settings: ProxySettings,
  caCerts: string[],
): Promise<Upstream> {
  const { host, port, sslmode, connectTimeoutMs } = settings.server;
  const server = `${host}:${port}`;
  const abort = new AbortController();
  let tcp: Deno.TcpConn | undefined;
  const timer = setTimeout(() => {
    abort.abort();
    try {
      tcp?.close();
    } catch { /* already closed */ }
  }, connectTimeoutMs);
  try {
    tcp = await Deno.connect({ hostname: host, port, signal: abort.signal });
    tcp.setNoDelay(true);
    tcp.setKeepAlive(true);
    const conn = await negotiateTls(tcp, { sslmode, host, caCerts, server });
    return {
      channel: new ConnChannel(conn),
      verified: sslmode === "verify-full" || sslmode === "verify-ca",
      transport: `sslmode=${sslmode}`,
    };
  } catch (error) {
    if (abort.signal.aborted) {
      throw new Error(`Cannot connect to ${server}: no connection within ${connectTimeoutMs} ms`);
    }
    throw new Error(`Cannot connect to ${server}: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends a CancelRequest for backend `pid` to the upstream, on a connection of its own. */
export async function forwardCancel(
  settings: ProxySettings,
  caCerts: string[],
  key: { pid: number; secret: number },
): Promise<void> {
  const upstream = await connectUpstream(settings, caCerts);
  try {
    await upstream.channel.write(cancelRequest(key.pid, key.secret));
    // The server closes the connection once it has read the request.
    await upstream.channel.read().catch(() => null);
  } finally {
    upstream.channel.close();
  }
}
