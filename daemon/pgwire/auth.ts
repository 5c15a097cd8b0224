/**
 * The authentication exchange after the startup message: SCRAM-SHA-256 (the server must prove
 * it knows the password, else the login fails) wherever the server asks for it; md5 (still
 * common on old installs) and clear text only over TLS to a server whose certificate was
 * verified (`sslmode=verify-full` or `verify-ca`). Both hand the password, or what stands for
 * it, to whoever answers: a DSN re-pointed at someone's own listener would give them the stored
 * password in clear text, and an md5 answer to a salt they relayed logs them in as Vigil. So
 * they are refused before anything is sent, with an error that says how to fix the server.
 * Trust needs nothing. Kerberos, GSSAPI and SSPI are refused with a message that says so.
 */
import { createHash } from "node:crypto";
import { SCRAM_SHA_256, ScramClient } from "./scram.ts";
import type { BackendMessage } from "./reader.ts";
import { parseNotice, PgError, type PgNotice, ReplicationError } from "./errors.ts";
import { passwordMessage, saslInitialResponse, saslResponse } from "./encode.ts";

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
  /**
   * The connection is TLS and the server's certificate was checked (`verify-full`,
   * `verify-ca`): the only kind md5 and clear-text passwords are sent over.
   */
  verifiedServer: boolean;
  /** What the connection is, for the message: `sslmode=disable`, `unix socket`, … */
  transport: string;
  onNotice?: ((notice: PgNotice) => void) | undefined;
  /** Told once the server has sent a well-formed message of PostgreSQL's login protocol. */
  onGreeting?: (() => void) | undefined;
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
  /** md5 and clear text: refused, before the password is touched, unless the server is verified. */
  const exposed = (method: string): string => {
    if (!creds.verifiedServer) {
      return fail(
        `the server asks for the password ${method}, which Vigil sends only over TLS to a ` +
          `server whose certificate it verified (sslmode=verify-full or verify-ca; this ` +
          `connection: ${creds.transport}): use scram-sha-256 in the server's pg_hba.conf, or ` +
          "TLS with sslmode=verify-full",
      );
    }
    return password(method);
  };
  const decoder = new TextDecoder();
  let scram: ScramClient | undefined;
  let greeted = false;
  for (;;) {
    const { type, payload } = await channel.receive();
    if (!greeted && isGreeting(type, payload)) {
      greeted = true;
      creds.onGreeting?.();
    }
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
          await channel.send(passwordMessage(exposed("in clear text")));
          break;
        case AUTH_MD5:
          await channel.send(passwordMessage(md5Password(creds.user, exposed("as md5"), body)));
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

/** Authentication codes a server may send, and the body length each has (-1: any). */
const AUTH_LENGTHS: ReadonlyMap<number, number> = new Map([
  [AUTH_OK, 4],
  [2, 4],
  [AUTH_CLEARTEXT, 4],
  [AUTH_MD5, 8],
  [6, 4],
  [7, 4],
  [8, -1],
  [9, 4],
  [AUTH_SASL, -1],
  [AUTH_SASL_CONTINUE, -1],
  [AUTH_SASL_FINAL, -1],
]);

/**
 * True for a message only a PostgreSQL server sends at login: an Authentication request of a
 * known code and length, or an ErrorResponse / NoticeResponse with a severity, a SQLSTATE and
 * a message. Anything else — an SSH banner, an HTTP answer — is not a server having answered.
 */
export function isGreeting(type: number, payload: Uint8Array): boolean {
  if (type === 0x52) { // 'R'
    if (payload.length < 4) return false;
    const code = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getInt32(0);
    const length = AUTH_LENGTHS.get(code);
    return length !== undefined && (length === -1 || payload.length === length);
  }
  if (type !== 0x45 && type !== 0x4e) return false; // 'E', 'N'
  try {
    const { fields } = parseNotice(payload);
    return (fields.S !== undefined || fields.V !== undefined) && fields.M !== undefined &&
      /^[0-9A-Z]{5}$/.test(fields.C ?? "") && payload[payload.length - 1] === 0;
  } catch {
    return false;
  }
}

/** `md5` + md5(md5(password ‖ user) ‖ salt), in hex, as PostgreSQL expects. */
export function md5Password(user: string, password: string, salt: Uint8Array): string {
  if (salt.length !== 4) throw new SyntaxError(`An md5 salt has 4 bytes, not ${salt.length}`);
  const inner = createHash("md5").update(password + user, "utf8").digest("hex");
  return "md5" + createHash("md5").update(inner, "utf8").update(salt).digest("hex");
}
