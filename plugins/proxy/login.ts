/**
 * The server's side of a login as the proxy relays it: each message is forwarded as it came,
 * except that the proxy refuses to pass on a request for a clear-text or md5 password over an
 * upstream link whose certificate it did not verify, and withdraws SCRAM's channel-binding
 * variant from the server's offer (the client's TLS ends at the proxy, so binding to it could
 * never succeed). It notes the outcome (AUTH_OK, AUTH_FAILED with the server's SQLSTATE) and
 * the server's cancel key.
 */

import type { NewEvent } from "../../daemon/event/model.ts";
import { authenticationSasl, frameMessage } from "../../daemon/pgwire/backend_encode.ts";
import { parseNotice } from "../../daemon/pgwire/errors.ts";
import type { Frame } from "../../daemon/pgwire/frames.ts";
import type { SessionEvents } from "./events.ts";
import type { Upstream } from "./upstream.ts";

const AUTH_OK = 0;
const AUTH_CLEARTEXT = 3;
const AUTH_MD5 = 5;
const AUTH_SASL = 10;

/** What one server message during login comes to. */
export interface LoginStep {
  /** The bytes to pass to the client, or null: the login is refused with `refusal`. */
  forward: Uint8Array | null;
  events: NewEvent[];
  refusal?: string;
  /** AuthenticationOk: the client is logged in. */
  ok?: boolean;
  /** BackendKeyData: the key a CancelRequest must carry. */
  key?: { pid: number; secret: number };
  /** An error after AuthenticationOk (e.g. no such database): the session's end. */
  error?: { message: string; sqlstate: string };
}

/** Handles one server message of the login; `authOk` says whether the client is logged in. */
export function loginStep(
  f: Frame,
  ctx: { events: SessionEvents; upstream: Upstream; authOk: boolean },
): LoginStep {
  const forward = frameMessage(f.type, f.body);
  if (f.type === 0x52 && f.body.length >= 4) { // 'R'
    const code = new DataView(f.body.buffer, f.body.byteOffset, f.body.byteLength).getInt32(0);
    if (code === AUTH_OK) {
      return { forward, events: [ctx.events.make("auth", "AUTH_OK")], ok: true };
    }
    if ((code === AUTH_CLEARTEXT || code === AUTH_MD5) && !ctx.upstream.verified) {
      const method = code === AUTH_MD5 ? "md5" : "clear text";
      const refusal = `The server asks for the password as ${method}, which the Vigil proxy ` +
        `relays only over TLS to a server whose certificate it verified (upstream ` +
        `${ctx.upstream.transport}): use scram-sha-256 in the server's pg_hba.conf, or ` +
        "sslmode=verify-full in the proxy's upstream";
      const failed = ctx.events.make("auth", "AUTH_FAILED", {
        sqlstate: "28000",
        error: refusal,
        context: { method: code === AUTH_MD5 ? "md5" : "password" },
      });
      return { forward: null, events: [failed], refusal };
    }
    if (code === AUTH_SASL) {
      const names = new TextDecoder().decode(f.body.subarray(4)).split("\0").filter((m) => m);
      return { forward: authenticationSasl(names.filter((m) => !m.endsWith("-PLUS"))), events: [] };
    }
  } else if (f.type === 0x45) { // 'E'
    const n = parseNotice(f.body);
    if (ctx.authOk) return { forward, events: [], error: { message: n.message, sqlstate: n.code } };
    const failed = ctx.events.make("auth", "AUTH_FAILED", { sqlstate: n.code, error: n.message });
    return { forward, events: [failed] };
  } else if (f.type === 0x4b && f.body.length >= 8) { // 'K'
    const view = new DataView(f.body.buffer, f.body.byteOffset, f.body.byteLength);
    return { forward, events: [], key: { pid: view.getInt32(0), secret: view.getInt32(4) } };
  }
  return { forward, events: [] };
}

/** Why a client that wants SCRAM channel binding through the proxy is refused. */
export const BINDING_REFUSAL = "SCRAM channel binding cannot cross the Vigil proxy (the " +
  "client's TLS ends at the proxy, the server's is another): connect with channel_binding=disable";

/**
 * Whether a SASLInitialResponse for SCRAM-SHA-256 carries the GS2 flag `y`: "I support
 * channel binding, but you did not offer it" — which a TLS server takes as a downgrade.
 */
export function wantsBinding(body: Uint8Array): boolean {
  const nul = body.indexOf(0);
  const mechanism = new TextDecoder().decode(body.subarray(0, Math.max(0, nul)));
  return mechanism === "SCRAM-SHA-256" && body[nul + 5] === 0x79; // 'y', after the int32 length
}
