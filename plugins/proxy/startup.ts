/**
 * The start of a client connection, before anything reaches the server: the SSLRequest
 * (answered 'S' and TLS begun when the source has a certificate, else 'N'), the GSSENCRequest
 * (always 'N'), and then either a CancelRequest or the StartupMessage. A client that sends
 * bytes after its SSLRequest before the TLS handshake is refused: those bytes would be
 * plaintext injected ahead of the encrypted session (CVE-2021-23222's twin on the server side).
 */

import tls from "node:tls";
import {
  CANCEL_REQUEST_CODE,
  GSSENC_REQUEST_CODE,
  SSL_REQUEST_CODE,
} from "../../daemon/pgwire/backend_encode.ts";
import { parseStartup, PROTOCOL_3 } from "../../daemon/pgwire/frontend.ts";
import { type ClientChannel, ConnChannel, connDuplex, SocketChannel } from "./channel.ts";

/** PostgreSQL's own limit on a startup packet. */
const MAX_STARTUP = 10_000;

/** How the start went. */
export type Start =
  | { kind: "startup"; client: ClientChannel; raw: Uint8Array; params: Map<string, string> }
  | { kind: "cancel"; client: ClientChannel; pid: number; secret: number }
  | { kind: "closed"; client: ClientChannel };

/** Whether the client is now talking TLS. */
export interface StartState {
  tls: boolean;
}

/**
 * Reads packets until a StartupMessage or a CancelRequest. Throws `SyntaxError` for anything
 * else, `Error` for a failed TLS handshake.
 */
export async function readStart(
  first: ConnChannel,
  secure: tls.SecureContext | null,
  state: StartState,
): Promise<Start> {
  let client: ClientChannel = first;
  for (;;) {
    const packet = await readPacket(client);
    if (packet === null) return { kind: "closed", client };
    const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
    const code = view.getInt32(4);
    if (code === SSL_REQUEST_CODE && packet.length === 8 && !state.tls) {
      if (secure === null) {
        await client.write(new Uint8Array([0x4e]));
        continue;
      }
      if (client.buffered > 0) {
        throw new SyntaxError("The client sent data after its SSLRequest before TLS began");
      }
      await client.write(new Uint8Array([0x53]));
      client = await startTls(first, secure);
      state.tls = true;
      continue;
    }
    if (code === GSSENC_REQUEST_CODE && packet.length === 8) {
      await client.write(new Uint8Array([0x4e]));
      continue;
    }
    if (code === CANCEL_REQUEST_CODE) {
      if (packet.length !== 16) throw new SyntaxError(`A CancelRequest of ${packet.length} bytes`);
      return { kind: "cancel", client, pid: view.getInt32(8), secret: view.getInt32(12) };
    }
    if (code >> 16 === PROTOCOL_3 >> 16) {
      const { params } = parseStartup(packet.subarray(4));
      if (!params.has("user")) throw new SyntaxError("A StartupMessage without a user");
      return { kind: "startup", client, raw: packet, params };
    }
    throw new SyntaxError(`Unsupported protocol version or request code ${code}`);
  }
}

/** One length-prefixed packet (length included), or null at a clean end of stream. */
async function readPacket(client: ClientChannel): Promise<Uint8Array | null> {
  let have = new Uint8Array(0);
  for (;;) {
    if (have.length >= 4) {
      const length = new DataView(have.buffer, have.byteOffset).getInt32(0);
      if (length < 8 || length > MAX_STARTUP) {
        throw new SyntaxError(`Invalid startup packet length ${length}`);
      }
      if (have.length >= length) {
        client.unread(have.subarray(length));
        return have.slice(0, length);
      }
    }
    const chunk = await client.read();
    if (chunk === null) {
      if (have.length === 0) return null;
      throw new SyntaxError(`The connection ended inside a startup packet (${have.length} bytes)`);
    }
    const next = new Uint8Array(have.length + chunk.length);
    next.set(have);
    next.set(chunk, have.length);
    have = next;
  }
}

/** Begins TLS as the server on the client's socket; resolves once the handshake is done. */
function startTls(plain: ConnChannel, secure: tls.SecureContext): Promise<SocketChannel> {
  // deno-lint-ignore no-explicit-any -- TLSSocket takes any duplex stream; its types say Socket.
  const duplex = connDuplex(plain.conn) as any;
  const socket = new tls.TLSSocket(duplex, { isServer: true, secureContext: secure });
  // Read from the start, so that nothing the client sends is missed while the handshake runs.
  const channel = new SocketChannel(socket);
  return new Promise((resolve, reject) => {
    const fail = (error?: Error): void => {
      socket.destroy();
      reject(new Error(`The TLS handshake with the client failed: ${error?.message ?? "closed"}`));
    };
    socket.once("secure", () => {
      socket.off("error", fail);
      socket.off("close", fail);
      resolve(channel);
    });
    socket.once("error", fail);
    socket.once("close", fail);
  });
}
