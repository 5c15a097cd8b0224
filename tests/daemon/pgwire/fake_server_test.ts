/**
 * Logins against a scripted fake server, for what a real PostgreSQL never does but an
 * impostor or a broken network might: a server that never answers, one that claims success
 * without finishing SCRAM (and so without proving it knows the password), one with a forged
 * SCRAM signature, and one asking for an authentication method Vigil does not speak.
 */
import { assertEquals, assertRejects, assertStringIncludes } from "../../support/assert.ts";
import { connect, type ConnectOptions } from "../../../daemon/pgwire/connection.ts";
import { ReplicationError } from "../../../daemon/pgwire/errors.ts";

const encoder = new TextEncoder();

/** A backend message: type byte, int32 length, body. */
function backend(type: string, ...parts: (Uint8Array | number[] | string)[]): Uint8Array {
  const body = parts.map((p) => typeof p === "string" ? encoder.encode(p) : Uint8Array.from(p));
  const length = body.reduce((n, p) => n + p.length, 4);
  const out = new Uint8Array(1 + length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, length);
  let pos = 5;
  for (const p of body) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function int32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

/** Reads the client's messages off the fake server's side of the socket. */
class ClientReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(0);
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async #need(n: number): Promise<void> {
    while (this.#buf.length < n) {
      const chunk = new Uint8Array(4096);
      const got = await this.#conn.read(chunk);
      if (got === null) throw new Error("client went away");
      const grown = new Uint8Array(this.#buf.length + got);
      grown.set(this.#buf);
      grown.set(chunk.subarray(0, got), this.#buf.length);
      this.#buf = grown;
    }
  }

  /** The startup message (no type byte): its body after the length. */
  async startup(): Promise<Uint8Array> {
    await this.#need(4);
    const length = new DataView(this.#buf.buffer).getInt32(0);
    await this.#need(length);
    const body = this.#buf.slice(4, length);
    this.#buf = this.#buf.slice(length);
    return body;
  }

  /** A typed message's body as text. */
  async message(): Promise<{ type: string; text: string }> {
    await this.#need(5);
    const length = new DataView(this.#buf.buffer).getInt32(1);
    await this.#need(1 + length);
    const type = String.fromCharCode(this.#buf[0]!);
    const text = new TextDecoder().decode(this.#buf.slice(5, 1 + length));
    this.#buf = this.#buf.slice(1 + length);
    return { type, text };
  }
}

/** Serves one connection with `script`, then closes; returns the port and a done promise. */
function fakeServer(
  script: (conn: Deno.Conn, reader: ClientReader) => Promise<void>,
): { port: number; done: Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const conn = await listener.accept();
    listener.close();
    try {
      await script(conn, new ClientReader(conn));
    } catch {
      /* the client hung up: that is what most tests expect */
    } finally {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  })();
  return { port: listener.addr.port, done };
}

function options(port: number, change: Partial<ConnectOptions> = {}): ConnectOptions {
  return {
    host: "127.0.0.1",
    port,
    user: "vigil",
    password: "secret",
    database: "db",
    sslmode: "disable",
    connectTimeoutMs: 5_000,
    ...change,
  };
}

/** Sends AuthenticationSASL, reads the client-first-message, returns the client nonce. */
async function beginScram(conn: Deno.Conn, reader: ClientReader): Promise<string> {
  await reader.startup();
  await conn.write(backend("R", int32(10), "SCRAM-SHA-256\0\0"));
  const first = await reader.message();
  return /r=([^,]+)$/.exec(first.text)?.[1] ?? "";
}

Deno.test("connect() gives up with a stage-connect error when the server never answers", async () => {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  const server = fakeServer(async (_conn, reader) => {
    await reader.startup();
    await held;
  });
  const started = Date.now();
  const error = await assertRejects(
    () => connect(options(server.port, { connectTimeoutMs: 300 })),
    ReplicationError,
  );
  release();
  await server.done;
  assertEquals(error.stage, "connect");
  assertStringIncludes(error.message, "no login within 300 ms");
  assertEquals(Date.now() - started < 3_000, true);
});

Deno.test("connect() refuses AuthenticationOk before the server has proved itself in SCRAM", async () => {
  const server = fakeServer(async (conn, reader) => {
    await beginScram(conn, reader);
    await conn.write(backend("R", int32(0))); // "OK" without SASLContinue/Final
    await reader.message();
  });
  const error = await assertRejects(() => connect(options(server.port)), ReplicationError);
  await server.done;
  assertEquals(error.stage, "auth");
  assertStringIncludes(error.message, "skipped the SCRAM final message");
});

Deno.test("connect() refuses a SCRAM server signature made without the password", async () => {
  const server = fakeServer(async (conn, reader) => {
    const nonce = await beginScram(conn, reader);
    const serverFirst = `r=${nonce}impostor,s=${btoa("saltsaltsalt")},i=4096`;
    await conn.write(backend("R", int32(11), serverFirst));
    await reader.message(); // client-final-message with the proof
    await conn.write(backend("R", int32(12), `v=${btoa("x".repeat(32))}`));
    await conn.write(backend("R", int32(0)));
    await reader.message();
  });
  const error = await assertRejects(() => connect(options(server.port)), ReplicationError);
  await server.done;
  assertEquals(error.stage, "auth");
  assertStringIncludes(error.message, "SCRAM signature is wrong");
});

Deno.test("connect() names an authentication method it does not support", async () => {
  const server = fakeServer(async (conn, reader) => {
    await reader.startup();
    await conn.write(backend("R", int32(7))); // GSSAPI
    await reader.message();
  });
  const error = await assertRejects(() => connect(options(server.port)), ReplicationError);
  await server.done;
  assertEquals(error.stage, "auth");
  assertStringIncludes(error.message, "unsupported authentication method GSSAPI");
});

Deno.test("connect() sends the replication, application and pinned session parameters", async () => {
  let startup = "";
  const server = fakeServer(async (conn, reader) => {
    startup = new TextDecoder().decode((await reader.startup()).subarray(4));
    await conn.write(backend("R", int32(0)));
    await conn.write(backend("S", "server_version\x0015.0\0"));
    await conn.write(backend("K", int32(4242), int32(7)));
    await conn.write(backend("Z", "I"));
    await reader.message(); // Terminate
  });
  const conn = await connect(
    options(server.port, { replication: "database", applicationName: "vigil wal" }),
  );
  assertEquals(conn.backendPid, 4242);
  assertEquals(conn.parameters.get("server_version"), "15.0");
  await conn.close();
  await server.done;
  const pairs = startup.split("\0");
  const params = Object.fromEntries(
    pairs.filter((_, i) => i % 2 === 0).map((key, i) => [key, pairs[i * 2 + 1]]),
  );
  assertEquals(params.user, "vigil");
  assertEquals(params.database, "db");
  assertEquals(params.replication, "database");
  assertEquals(params.application_name, "vigil wal");
  assertEquals(params.TimeZone, "UTC");
  assertEquals(params.DateStyle, "ISO, MDY");
  assertEquals(params.client_encoding, "UTF8");
});
