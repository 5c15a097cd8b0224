/**
 * The authentication exchange after the startup message: SCRAM-SHA-256 (the server must prove
 * it knows the password, else the login fails), and — only because the server asks for them —
 * md5 (still common on old installs) and cleartext (send it only over TLS). Trust needs nothing.
 * Kerberos, GSSAPI and SSPI are refused with a message that says so.
 */
import { createHash } from "node:crypto";
import { SCRAM_SHA_256, ScramClient } from "./_scram.ts";
import type { BackendMessage } from "./_wire_reader.ts";
import { parseNotice, PgError, type PgNotice, ReplicationError } from "./_wire_errors.ts";
import { passwordMessage, saslInitialResponse, saslResponse } from "./_wire_encode.ts";

/** The two directions of the connection during login. */
export interface AuthChannel {
  /** The next message; throws a `ReplicationError` if the connection ends. */
  receive(): Promise<BackendMessage>;
  send(bytes: Uint8Array): Promise<void>;
}

/** Who logs in where. */
export interface Credentials {
  user: string;
  password: string | undefined;
  /** `host:port`, for messages. */
  server: string;
  onNotice?: ((notice: PgNotice) => void) | undefined;
}

const AUTH_OK = 0;
const AUTH_CLEARTEXT = 3;
const AUTH_MD5 = 5;
const AUTH_SASL = 10;
const AUTH_SASL_CONTINUE = 11;
const AUTH_SASL_FINAL = 12;
const UNSUPPORTED: Record<number, string> = {
  2: "Kerberos V5",
  6: "SCM credentials",
  7: "GSSAPI",
  8: "GSSAPI",
  9: "SSPI",
};

/** Runs the exchange until AuthenticationOk; throws a stage-`auth` error otherwise. */
export async function authenticate(channel: AuthChannel, creds: Credentials): Promise<void> {
  const what = `Cannot log in as "${creds.user}" to ${creds.server}`;
  const fail = (why: string, cause?: unknown): never => {
    const context = cause === undefined
      ? { server: creds.server }
      : { server: creds.server, cause };
    throw new ReplicationError("auth", `${what}: ${why}`, context);
  };
  const password = (method: string): string =>
    creds.password ?? fail(`the server asks for a password (${method}) and none was given`);
  const decoder = new TextDecoder();
  let scram: ScramClient | undefined;
  for (;;) {
    const { type, payload } = await channel.receive();
    if (type === 0x45) { // 'E'
      throw new PgError("auth", what, parseNotice(payload), { server: creds.server });
    }
    if (type === 0x4e) { // 'N'
      creds.onNotice?.(parseNotice(payload));
      continue;
    }
    if (type !== 0x52 || payload.length < 4) { // 'R'
      return fail(`unexpected message "${String.fromCharCode(type)}" during authentication`);
    }
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const code = view.getInt32(0);
    const body = payload.subarray(4);
    try {
      switch (code) {
        case AUTH_OK:
          if (scram && !scram.verified) {
            return fail("the server skipped the SCRAM final message that proves its identity");
          }
          return;
        case AUTH_CLEARTEXT:
          await channel.send(passwordMessage(password("cleartext")));
          break;
        case AUTH_MD5:
          await channel.send(passwordMessage(md5Password(creds.user, password("md5"), body)));
          break;
        case AUTH_SASL: {
          const mechanisms = decoder.decode(body).split("\0").filter((m) => m !== "");
          if (!mechanisms.includes(SCRAM_SHA_256)) {
            return fail(`no supported SASL mechanism among ${mechanisms.join(", ")}`);
          }
          scram = new ScramClient(password(SCRAM_SHA_256));
          await channel.send(saslInitialResponse(SCRAM_SHA_256, scram.clientFirst()));
          break;
        }
        case AUTH_SASL_CONTINUE:
          if (!scram) return fail("SASL continue message without a SASL exchange");
          await channel.send(saslResponse(scram.clientFinal(decoder.decode(body))));
          break;
        case AUTH_SASL_FINAL:
          if (!scram) return fail("SASL final message without a SASL exchange");
          scram.verifyServerFinal(decoder.decode(body));
          break;
        default:
          return fail(`unsupported authentication method ${UNSUPPORTED[code] ?? `code ${code}`}`);
      }
    } catch (error) {
      if (error instanceof ReplicationError) throw error;
      return fail((error as Error).message, error);
    }
  }
}

/** `md5` + md5(md5(password ‖ user) ‖ salt), in hex, as PostgreSQL expects. */
export function md5Password(user: string, password: string, salt: Uint8Array): string {
  if (salt.length !== 4) throw new SyntaxError(`An md5 salt has 4 bytes, not ${salt.length}`);
  const inner = createHash("md5").update(password + user, "utf8").digest("hex");
  return "md5" + createHash("md5").update(inner, "utf8").update(salt).digest("hex");
}
