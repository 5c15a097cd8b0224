/**
 * TLS for a PostgreSQL connection: the SSLRequest handshake, then `Deno.startTls` on the same
 * socket. A server that declines ('N') is refused for every mode but `disable`, so a DSN that
 * asks for TLS never quietly runs in plaintext.
 */
import type { SslMode } from "./dsn.ts";
import { ReplicationError } from "./errors.ts";
import { sslRequest } from "./encode.ts";

/** What {@link negotiateTls} needs besides the socket. */
export interface TlsOptions {
  sslmode: SslMode;
  /** Host name (or IP address) the certificate must name under `verify-full`. */
  host: string;
  /** PEM CA certificates trusted besides the system roots. */
  caCerts?: string[];
  /** `host:port`, for error messages. */
  server: string;
}

/**
 * Asks for TLS and starts it. Returns the TLS connection, or `conn` itself under `disable`.
 * On failure `conn` is closed.
 */
export async function negotiateTls(conn: Deno.TcpConn, opts: TlsOptions): Promise<Deno.Conn> {
  if (opts.sslmode === "disable") return conn;
  const fail = (why: string, cause?: unknown): never => {
    try {
      conn.close();
    } catch { /* already closed */ }
    const context = cause === undefined ? { server: opts.server } : { server: opts.server, cause };
    throw new ReplicationError("connect", `Cannot start TLS with ${opts.server}: ${why}`, context);
  };
  let answer: number | undefined;
  try {
    await writeAll(conn, sslRequest());
    answer = await readByte(conn);
  } catch (error) {
    return fail(`the SSLRequest failed: ${(error as Error).message}`, error);
  }
  if (answer === 0x4e) { // 'N'
    return fail(`the server does not accept TLS connections, and sslmode is ${opts.sslmode}`);
  }
  if (answer !== 0x53) { // 'S'; an 'E' comes from a server too old to know SSLRequest
    const shown = answer === undefined ? "end of stream" : `byte 0x${answer.toString(16)}`;
    return fail(`unexpected answer to the SSLRequest: ${shown}`);
  }
  try {
    const tls = await Deno.startTls(conn, {
      hostname: opts.host,
      ...(opts.caCerts ? { caCerts: opts.caCerts } : {}),
      unsafelyDisableHostnameVerification: opts.sslmode !== "verify-full",
    });
    await tls.handshake();
    return tls;
  } catch (error) {
    return fail(
      `the handshake failed (sslmode ${opts.sslmode}): ${(error as Error).message}`,
      error,
    );
  }
}

/** Writes all of `bytes`; `Conn.write` may write only part. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await conn.write(bytes.subarray(done));
}

/**
 * Reads exactly one byte. Nothing more may be read here: bytes after the 'S' belong to the TLS
 * handshake, and a server that sends them early is trying to inject plaintext (CVE-2021-23222).
 */
async function readByte(conn: Deno.Conn): Promise<number | undefined> {
  const one = new Uint8Array(1);
  for (;;) {
    const n = await conn.read(one);
    if (n === null) return undefined;
    if (n === 1) return one[0];
  }
}
