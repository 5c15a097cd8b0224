/**
 * The daemon's HTTP(S) server: a fetch handler (the Hono app) served with read timeouts, so
 * that a client cannot hold a connection open by sending slowly. `Deno.serve` has none — a
 * request whose headers or body come a byte every few seconds is waited for without end — so
 * this serves through `node:http`/`node:https`, which Deno implements with Node's timeouts:
 * the TLS handshake, the request headers and the whole request (headers and body) must each
 * arrive within their time or the connection is answered 408 and closed, and an idle kept-alive
 * connection is closed after a few seconds. Responses stream with backpressure: a body is read
 * only as fast as the client takes it, and when the client goes away the body is cancelled (a
 * bundle download removes its staged copy). At shutdown, responses in progress get a grace time
 * to finish, so that a client that stopped reading cannot hold the daemon's stop up.
 *
 * The handler gets the client address as `Deno.serve` would give it (`info.remoteAddr`), read
 * when the request arrives.
 */

import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";

/** How long each part of a request may take, ms. */
export interface HttpTimeouts {
  /** TLS handshake. */
  readonly handshakeMs: number;
  /** From the connection (or the end of the previous request) to the end of the headers. */
  readonly headersMs: number;
  /** The whole request, headers and body. */
  readonly requestMs: number;
  /** An idle kept-alive connection. */
  readonly keepAliveMs: number;
  /** At shutdown, how long responses in progress may take to finish before they are cut. */
  readonly shutdownGraceMs: number;
}

/** Defaults: generous for people and scripts on a LAN, short for a connection that stalls. */
export const HTTP_TIMEOUTS: HttpTimeouts = {
  handshakeMs: 10_000,
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 5_000,
  shutdownGraceMs: 10_000,
};

/** The handler: a request and where it came from, as `Deno.serve` passes them. */
export type FetchHandler = (
  req: Request,
  info: { remoteAddr: Deno.NetAddr },
) => Response | Promise<Response>;

/** What to serve and where. */
export interface ServeOptions {
  hostname: string;
  port: number;
  /** PEM text; both or neither. */
  tls?: { cert: string; key: string };
  timeouts?: Partial<HttpTimeouts>;
  /** Answers a handler that threw. */
  onError(error: unknown): Response;
}

/** A running server. */
export interface HttpServer {
  /** Where it listens (the real port when 0 was asked for). */
  readonly addr: Deno.NetAddr;
  /** Resolves once the server has closed. */
  readonly finished: Promise<void>;
  /**
   * Stops accepting, lets requests in progress finish (for `shutdownGraceMs` at most: then
   * their connections are closed), then closes.
   */
  shutdown(): Promise<void>;
}

/** Starts serving; resolves once listening. */
export async function serveHttp(handler: FetchHandler, opts: ServeOptions): Promise<HttpServer> {
  const t = { ...HTTP_TIMEOUTS, ...opts.timeouts };
  const options = {
    headersTimeout: t.headersMs,
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
    // How often the two above are looked at: they can be late by this much.
    connectionsCheckingInterval: Math.max(100, Math.min(1000, t.headersMs / 4)),
  };
  const scheme = opts.tls ? "https" : "http";
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void =>
    void respond(handler, req, res, { scheme, onError: opts.onError });
  const server = opts.tls
    ? https.createServer({ ...options, ...opts.tls, handshakeTimeout: t.handshakeMs }, listener)
    : http.createServer(options, listener);
  const finished = new Promise<void>((resolve) => server.once("close", () => resolve()));
  // Deno's node:http throws a missing net permission from inside `listen`, where no `error`
  // handler sees it: ask first, so that a start with stale flags fails here, with the address.
  const host = opts.port === 0 ? opts.hostname : `${opts.hostname}:${opts.port}`;
  if (Deno.permissions.querySync({ name: "net", host }).state !== "granted") {
    throw new Deno.errors.NotCapable(
      `Requires net access to "${host}", run again with the --allow-net flag`,
    );
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address();
  if (bound === null || typeof bound === "string") throw new Error("the server has no address");
  const addr: Deno.NetAddr = { transport: "tcp", hostname: bound.address, port: bound.port };
  let closing: Promise<void> | undefined;
  return {
    addr,
    finished,
    shutdown(): Promise<void> {
      closing ??= (async () => {
        server.close();
        // Kept-alive connections between requests would hold the close up; busy ones finish,
        // unless a client that stopped reading would hold it up for good.
        const sweep = setInterval(() => server.closeIdleConnections(), 200);
        const cut = setTimeout(() => server.closeAllConnections(), t.shutdownGraceMs);
        server.closeIdleConnections();
        await finished;
        clearInterval(sweep);
        clearTimeout(cut);
      })();
      return closing;
    },
  };
}

/** The client address as `Deno.serve` gives it: an IPv4 peer of a dual-stack socket as IPv4. */
function peer(req: http.IncomingMessage): Deno.NetAddr {
  const raw = req.socket.remoteAddress ?? "unknown";
  const hostname = raw.startsWith("::ffff:") && raw.includes(".") ? raw.slice(7) : raw;
  return { transport: "tcp", hostname, port: req.socket.remotePort ?? 0 };
}

/** The fetch Request of a node request; its signal aborts when the client goes away. */
function toRequest(req: http.IncomingMessage, scheme: string, signal: AbortSignal): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  }
  const host = headers.get("host") ?? "localhost";
  const url = new URL(req.url ?? "/", `${scheme}://${host}`);
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  const init: RequestInit & { duplex?: "half" } = { method: req.method ?? "GET", headers, signal };
  if (hasBody) {
    init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>;
    init.duplex = "half";
  } else {
    req.resume();
  }
  return new Request(url, init);
}

async function respond(
  handler: FetchHandler,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  opts: { scheme: string; onError: (error: unknown) => Response },
): Promise<void> {
  const gone = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) gone.abort(new Error("the client closed the connection"));
  });
  let request: Request;
  try {
    request = toRequest(req, opts.scheme, gone.signal);
  } catch {
    res.writeHead(400, { "Content-Type": "text/plain; charset=utf-8", Connection: "close" });
    res.end("Bad request: the Host header or the target is not a URL");
    return;
  }
  let response: Response;
  try {
    response = await handler(request, { remoteAddr: peer(req) });
  } catch (error) {
    response = opts.onError(error);
  }
  if (res.destroyed) {
    await response.body?.cancel(gone.signal.reason).catch(() => {});
    return;
  }
  res.statusCode = response.status;
  for (const [k, v] of response.headers) if (k !== "set-cookie") res.setHeader(k, v);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
  // Answered before its body came in (401, 413, …): close rather than wait for the rest, which
  // a client could send a byte at a time after its request timeout no longer applies.
  if (!req.complete) res.setHeader("connection", "close");
  const body = response.body;
  if (body === null || req.method === "HEAD") {
    await body?.cancel().catch(() => {});
    res.end();
    return;
  }
  await pipeBody(body, res, gone.signal);
}

/** Writes a body as fast as the client takes it; cancels it when the client goes away. */
async function pipeBody(
  body: ReadableStream<Uint8Array>,
  res: http.ServerResponse,
  gone: AbortSignal,
): Promise<void> {
  const reader = body.getReader();
  const cancel = (): void => void reader.cancel(gone.reason).catch(() => {});
  gone.addEventListener("abort", cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          const go = (): void => {
            res.off("drain", go);
            res.off("close", go);
            resolve();
          };
          res.once("drain", go);
          res.once("close", go);
        });
      }
    }
    res.end();
  } catch {
    // The body failed (a read error, or cancelled above): the client cannot get a whole one.
    res.destroy();
  } finally {
    gone.removeEventListener("abort", cancel);
  }
}
