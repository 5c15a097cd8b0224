/**
 * A bare protocol client for the proxy's tests: it sends exactly the messages a test builds
 * (extended-protocol pipelines, binary parameters, garbage) and reads back what arrives, so
 * that a test controls every byte a real driver would choose for it.
 */

import { frameMessage } from "../../../daemon/pgwire/backend_encode.ts";
import { startupMessage } from "../../../daemon/pgwire/encode.ts";
import { type BackendMessage, MessageReader } from "../../../daemon/pgwire/reader.ts";

const enc = new TextEncoder();

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function cstr(text: string): Uint8Array {
  return concat(enc.encode(text), new Uint8Array([0]));
}

function int16(v: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setInt16(0, v);
  return b;
}

function int32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v);
  return b;
}

const msg = (type: string, ...parts: Uint8Array[]): Uint8Array =>
  frameMessage(type.charCodeAt(0), concat(...parts));

/** Parse: statement name, text, parameter type OIDs. */
export function parse(name: string, sql: string, types: number[] = []): Uint8Array {
  return msg("P", cstr(name), cstr(sql), int16(types.length), ...types.map(int32));
}

/** Bind: portal, statement, per-parameter formats and values (null for NULL). */
export function bind(
  portal: string,
  statement: string,
  params: { format: 0 | 1; value: Uint8Array | null }[],
): Uint8Array {
  return msg(
    "B",
    cstr(portal),
    cstr(statement),
    int16(params.length),
    ...params.map((p) => int16(p.format)),
    int16(params.length),
    ...params.map((p) => p.value === null ? int32(-1) : concat(int32(p.value.length), p.value)),
    int16(0),
  );
}

export const execute = (portal = "", maxRows = 0): Uint8Array =>
  msg("E", cstr(portal), int32(maxRows));
export const describe = (kind: "S" | "P", name: string): Uint8Array =>
  msg("D", enc.encode(kind), cstr(name));
export const sync = (): Uint8Array => msg("S");
export const query = (sql: string): Uint8Array => msg("Q", cstr(sql));
export const terminate = (): Uint8Array => msg("X");
export const text = (s: string): { format: 0; value: Uint8Array } => ({
  format: 0,
  value: enc.encode(s),
});

/** A raw connection to the proxy. */
export class RawClient {
  readonly conn: Deno.TcpConn;
  readonly reader: MessageReader;
  /** The server's cancel key, once logged in. */
  key: { pid: number; secret: number } | undefined;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.reader = new MessageReader(conn);
  }

  /** Connects without logging in. */
  static async open(port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Connects and logs in (the harness cluster trusts loopback). */
  static async login(port: number, user = "postgres", app = "raw-client"): Promise<RawClient> {
    const c = await RawClient.open(port);
    await c.send(startupMessage({ user, database: "postgres", application_name: app }));
    for (const m of await c.untilReady()) {
      if (m.type === 0x4b) {
        const v = new DataView(m.payload.buffer, m.payload.byteOffset);
        c.key = { pid: v.getInt32(0), secret: v.getInt32(4) };
      }
      if (m.type === 0x45) throw new Error("login failed");
    }
    return c;
  }

  async send(...parts: Uint8Array[]): Promise<void> {
    const bytes = concat(...parts);
    let done = 0;
    while (done < bytes.length) done += await this.conn.write(bytes.subarray(done));
  }

  /** The next message, or null at the end of the stream. */
  next(): Promise<BackendMessage | null> {
    return this.reader.next();
  }

  /** Messages up to and including ReadyForQuery; throws at the end of the stream. */
  async untilReady(): Promise<BackendMessage[]> {
    const out: BackendMessage[] = [];
    for (;;) {
      const m = await this.next();
      if (m === null) throw new Error(`connection ended after ${out.length} messages`);
      out.push({ type: m.type, payload: m.payload.slice() });
      if (m.type === 0x5a) return out;
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** Type letters of messages, e.g. "12DCZ". */
export function types(messages: BackendMessage[]): string {
  return messages.map((m) => String.fromCharCode(m.type)).join("");
}
