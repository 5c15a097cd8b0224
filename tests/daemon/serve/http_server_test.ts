/**
 * The daemon's HTTP server over real sockets: a client that sends its headers or its body too
 * slowly is answered 408 and cut off, a request answered before its body came is closed rather
 * than drained, an idle TLS connection that never shakes hands is closed; ordinary requests,
 * cookies and the client address pass as `Deno.serve` passes them, and a streamed body is
 * cancelled when the client goes away. Timeouts here are short so that the test is quick; what
 * is checked is that the server stops waiting, never how fast it answers.
 */

import { serveHttp } from "../../../daemon/serve/http_server.ts";
import { assert, assertEquals, assertEventually, assertMatch } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";
import { makeTestCerts } from "../../support/test_ca.ts";

const TIMEOUTS = { handshakeMs: 300, headersMs: 300, requestMs: 600, keepAliveMs: 300 };
const enc = new TextEncoder();

/** Everything the server sends until it closes the connection. */
async function readAll(conn: Deno.Conn): Promise<string> {
  const dec = new TextDecoder();
  let out = "";
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return out;
    out += dec.decode(buf.subarray(0, n));
  }
}

/**
 * Sends `head` at once, then `drip` a byte every 100 ms; returns what the server answered and
 * whether every byte was sent before it closed the connection.
 */
async function slowClient(
  port: number,
  head: string,
  drip: string,
): Promise<{ answer: string; sentAll: boolean }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const answer = readAll(conn);
  let sentAll = true;
  try {
    await conn.write(enc.encode(head));
    for (const ch of drip) {
      await new Promise((r) => setTimeout(r, 100));
      await conn.write(enc.encode(ch));
    }
  } catch {
    sentAll = false;
  }
  // Everything went through: do not wait for a server that would go on waiting too.
  if (sentAll) conn.close();
  const text = await answer;
  try {
    conn.close();
  } catch { /* closed by the server */ }
  return { answer: text, sentAll };
}

async function withServer(
  handler: Parameters<typeof serveHttp>[0],
  fn: (port: number) => Promise<void>,
): Promise<void> {
  const server = await serveHttp(handler, {
    hostname: "127.0.0.1",
    port: 0,
    timeouts: TIMEOUTS,
    onError: () => new Response("internal error", { status: 500 }),
  });
  try {
    await fn(server.addr.port);
  } finally {
    await server.shutdown();
  }
}

const echo = async (req: Request, info: { remoteAddr: Deno.NetAddr }): Promise<Response> => {
  const body = await req.text();
  const headers = new Headers({ "X-Peer": info.remoteAddr.hostname });
  headers.append("Set-Cookie", "a=1; Path=/");
  headers.append("Set-Cookie", "b=2; Path=/");
  return new Response(`${req.method} ${new URL(req.url).pathname} ${body.length}`, { headers });
};

Deno.test("serveHttp() answers 408 and closes a connection whose headers come too slowly", async () => {
  await withServer(echo, async (port) => {
    const r = await slowClient(port, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ", "a".repeat(100));
    assertMatch(r.answer, /^HTTP\/1\.1 408/);
    assert(!r.sentAll, "the server stopped waiting before the headers were complete");
  });
});

Deno.test("serveHttp() answers 408 and closes a connection whose body comes too slowly", async () => {
  let handled = 0;
  await withServer(async (req, info) => {
    handled++;
    return await echo(req, info);
  }, async (port) => {
    const head = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";
    const r = await slowClient(port, head, "b".repeat(100));
    assertMatch(r.answer, /^HTTP\/1\.1 408/);
    assert(!r.sentAll, "the server stopped waiting before the body was complete");
    assertEquals(handled, 1);
  });
});

Deno.test("serveHttp() closes a connection answered before its body came, instead of draining it", async () => {
  await withServer(() => new Response("no", { status: 401 }), async (port) => {
    const head = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n";
    const r = await slowClient(port, head, "c".repeat(60));
    assertMatch(r.answer, /^HTTP\/1\.1 401/);
    assert(!r.sentAll, "the connection was closed after the answer");
  });
});

Deno.test("serveHttp() passes requests, bodies, cookies and the client address as Deno.serve does", async () => {
  await withServer(echo, async (port) => {
    const base = `http://127.0.0.1:${port}`;
    const res = await fetch(`${base}/a/b?q=1`, { method: "POST", body: "x".repeat(70_000) });
    assertEquals(res.status, 200);
    assertEquals(await res.text(), "POST /a/b 70000");
    assertEquals(res.headers.get("X-Peer"), "127.0.0.1");
    assertEquals(res.headers.getSetCookie(), ["a=1; Path=/", "b=2; Path=/"]);
    // The connection is kept for the next request.
    const again = await fetch(`${base}/`);
    assertEquals(await again.text(), "GET / 0");
    const head = await fetch(`${base}/`, { method: "HEAD" });
    assertEquals([head.status, await head.text()], [200, ""]);
  });
});

Deno.test("serveHttp() cancels a streamed body when the client goes away", async () => {
  let cancelled: unknown = null;
  const body = (): ReadableStream<Uint8Array> => {
    let i = 0;
    return new ReadableStream({
      pull(ctrl) {
        ctrl.enqueue(new Uint8Array(64 * 1024).fill(i++ % 256));
      },
      cancel(reason) {
        cancelled = reason ?? "cancelled";
      },
    });
  };
  await withServer(() => new Response(body()), async (port) => {
    const abort = new AbortController();
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: abort.signal });
    const reader = res.body!.getReader();
    await reader.read();
    abort.abort();
    await reader.cancel().catch(() => {});
    await assertEventually(() => cancelled !== null, { message: "the body cancelled" });
  });
});

Deno.test("serveHttp() over TLS closes a connection that never completes its handshake", async () => {
  await withTempDir(async (dir) => {
    await makeTestCerts(dir, "server", "vigil test CA");
    const server = await serveHttp(echo, {
      hostname: "127.0.0.1",
      port: 0,
      tls: {
        cert: await Deno.readTextFile(`${dir}/server.crt`),
        key: await Deno.readTextFile(`${dir}/server.key`),
      },
      timeouts: TIMEOUTS,
      onError: () => new Response("internal error", { status: 500 }),
    });
    try {
      const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(`${dir}/ca.crt`)] });
      const res = await fetch(`https://127.0.0.1:${server.addr.port}/tls`, { client });
      assertEquals(await res.text(), "GET /tls 0");
      client.close();
      // A client that connects and says nothing.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      assertEquals(await readAll(conn), "", "closed without a word");
      conn.close();
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("serveHttp().shutdown() cuts a response a stalled client holds up, after its grace", async () => {
  let cancelled = false;
  const endless = (): ReadableStream<Uint8Array> =>
    new ReadableStream({
      pull(ctrl) {
        ctrl.enqueue(new Uint8Array(256 * 1024));
      },
      cancel() {
        cancelled = true;
      },
    });
  const server = await serveHttp(() => new Response(endless()), {
    hostname: "127.0.0.1",
    port: 0,
    timeouts: { ...TIMEOUTS, shutdownGraceMs: 300 },
    onError: () => new Response("internal error", { status: 500 }),
  });
  // A client that asks and then reads nothing.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  await new Promise((r) => setTimeout(r, 100));
  await server.shutdown();
  await assertEventually(() => cancelled, { message: "the body cancelled" });
  conn.close();
});
