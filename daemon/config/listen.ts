/**
 * The web listen address, `host:port` or `[v6]:port`, and whether it is loopback: a listen
 * address other than loopback requires TLS.
 */

/** A parsed listen address. */
export interface ListenAddress {
  readonly hostname: string;
  readonly port: number;
  readonly loopback: boolean;
}

/** Parses `host:port`; throws `TypeError` with the accepted forms. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.\-]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (m === null || port > 65535) {
    throw new TypeError(
      `expected "host:port" or "[v6]:port" with a port up to 65535, got ${JSON.stringify(text)}`,
    );
  }
  const hostname = m[1] ?? m[2]!;
  const loopback = hostname === "localhost" || hostname === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
  return { hostname, port, loopback };
}
