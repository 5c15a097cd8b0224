/**
 * A bare protocol client for the proxy's tests: it sends exactly the messages a test builds
 * (extended-protocol pipelines, binary parameters, garbage) and reads back what arrives, so
 * that a test controls every byte a real driver would choose for it.
 */

import { startupMessage } from "../../../daemon/pgwire/encode.ts";
import { type BackendMessage, MessageReader } from "../../../daemon/pgwire/reader.ts";

export {
  bind,
  concat,
  copyData,
  copyDone,
  describe,
  execute,
  parse,
  query,
  sync,
  terminate,
  text,
} from "../../support/frontend_messages.ts";
import { concat } from "../../support/frontend_messages.ts";

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
