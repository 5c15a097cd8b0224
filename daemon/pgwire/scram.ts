/**
 * The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it: no channel
 * binding (`n,,`), an empty user name (the server takes it from the startup message), and the
 * password prepared with SASLprep the way PostgreSQL prepares it when it stores the verifier.
 * The server must prove that it knows the verifier too: {@link ScramClient.verifyServerFinal}
 * checks its signature, and a login is not complete until it has.
 *
 * @example
 * ```ts
 * const scram = new ScramClient(password);
 * send(scram.clientFirst());
 * send(scram.clientFinal(await receiveServerFirst()));
 * scram.verifyServerFinal(await receiveServerFinal()); // throws unless the server proved itself
 * ```
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";

/** The SASL mechanism name. */
export const SCRAM_SHA_256 = "SCRAM-SHA-256";

/** More rounds than any sane server asks for would only let a hostile one stall us. */
const MAX_ITERATIONS = 10_000_000;

/** Options of {@link ScramClient}; both exist for the RFC test vectors. */
export interface ScramOptions {
  /** Client nonce; default 18 random bytes in base64, like libpq. */
  nonce?: string;
  /** User name sent in the client-first-message; PostgreSQL ignores it, so default empty. */
  user?: string;
}

/** One SCRAM-SHA-256 exchange; use each instance for one login only. */
export class ScramClient {
  #password: Uint8Array;
  #nonce: string;
  #clientFirstBare: string;
  #expectedServerSignature: Buffer | undefined;
  #verified = false;

  constructor(password: string, opts: ScramOptions = {}) {
    this.#password = new TextEncoder().encode(saslPrep(password));
    this.#nonce = opts.nonce ?? randomBytes(18).toString("base64");
    if (/[^\x21-\x7e]|,/.test(this.#nonce)) throw new TypeError("A SCRAM nonce must be printable");
    const user = (opts.user ?? "").replaceAll("=", "=3D").replaceAll(",", "=2C");
    this.#clientFirstBare = `n=${user},r=${this.#nonce}`;
  }

  /** Whether the server's signature has been checked and matched. */
  get verified(): boolean {
    return this.#verified;
  }

  /** The client-first-message (gs2 header `n,,`: no channel binding). */
  clientFirst(): string {
    return `n,,${this.#clientFirstBare}`;
  }

  /** The client-final-message with the proof, computed from the server-first-message. */
  clientFinal(serverFirst: string): string {
    const attrs = parseAttributes(serverFirst, "server-first-message");
    if (attrs.m !== undefined) {
      throw new SyntaxError("The server demands a SCRAM extension this client does not know");
    }
    const { r: nonce, s: salt, i: rounds } = attrs;
    if (nonce === undefined || salt === undefined || rounds === undefined) {
      throw new SyntaxError(`Incomplete SCRAM server-first-message: ${serverFirst}`);
    }
    if (!nonce.startsWith(this.#nonce) || nonce.length === this.#nonce.length) {
      throw new SyntaxError("The server's SCRAM nonce does not extend the client's");
    }
    const iterations = Number(rounds);
    if (!/^[1-9][0-9]*$/.test(rounds) || iterations > MAX_ITERATIONS) {
      throw new RangeError(`Refusing a SCRAM iteration count of ${rounds}`);
    }
    const saltedPassword = pbkdf2Sync(
      this.#password,
      Buffer.from(salt, "base64"),
      iterations,
      32,
      "sha256",
    );
    const clientKey = hmac(saltedPassword, "Client Key");
    const storedKey = createHash("sha256").update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`; // biws = base64("n,,")
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const clientSignature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
    this.#expectedServerSignature = hmac(hmac(saltedPassword, "Server Key"), authMessage);
    return `${withoutProof},p=${proof.toString("base64")}`;
  }

  /** Checks the server-final-message; throws unless it carries the expected signature. */
  verifyServerFinal(serverFinal: string): void {
    const expected = this.#expectedServerSignature;
    if (!expected) throw new Error("The SCRAM server-final-message came before the proof");
    const attrs = parseAttributes(serverFinal, "server-final-message");
    if (attrs.e !== undefined) throw new Error(`The server rejected the SCRAM proof: ${attrs.e}`);
    const signature = Buffer.from(attrs.v ?? "", "base64");
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
      throw new Error("The server's SCRAM signature is wrong: it does not know the password");
    }
    this.#verified = true;
  }
}

function hmac(key: Uint8Array, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

/** `a=1,b=2` into `{a: "1", b: "2"}`; values may contain `=` (base64). */
function parseAttributes(message: string, what: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const part of message.split(",")) {
    if (!/^[a-zA-Z]=/.test(part)) throw new SyntaxError(`Malformed SCRAM ${what}: ${message}`);
    attrs[part[0]!] = part.slice(2);
  }
  return attrs;
}

/** RFC 3454 C.1.2, mapped to a space. */
const NON_ASCII_SPACE = /[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/gu;
/** RFC 3454 B.1, mapped to nothing. */
const MAPPED_TO_NOTHING =
  /[\u00ad\u034f\u1806\u180b-\u180d\u200c\u200d\u2060\ufe00-\ufe0f\ufeff]/gu;
/** RFC 3454 C.1.2 and C.2–C.9: characters SASLprep must not output. */
const PROHIBITED = new RegExp(
  "[\\u0000-\\u001f\\u007f-\\u009f\\u00a0\\u0340\\u0341\\u06dd\\u070f\\u1680\\u180e" +
    "\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u2063\\u206a-\\u206f\\u2ff0-\\u2ffb\\u3000" +
    "\\ud800-\\udfff\\ue000-\\uf8ff\\ufdd0-\\ufdef\\ufeff\\ufff9-\\ufffd" +
    "\\u{1d173}-\\u{1d17a}\\u{e0001}\\u{e0020}-\\u{e007f}\\u{f0000}-\\u{10ffff}" +
    "\\u{1fffe}\\u{1ffff}\\u{2fffe}\\u{2ffff}\\u{3fffe}\\u{3ffff}\\u{4fffe}\\u{4ffff}" +
    "\\u{5fffe}\\u{5ffff}\\u{6fffe}\\u{6ffff}\\u{7fffe}\\u{7ffff}\\u{8fffe}\\u{8ffff}" +
    "\\u{9fffe}\\u{9ffff}\\u{afffe}\\u{affff}\\u{bfffe}\\u{bffff}\\u{cfffe}\\u{cffff}" +
    "\\u{dfffe}\\u{dffff}\\u{efffe}\\u{effff}]",
  "u",
);

/**
 * SASLprep (RFC 4013) as PostgreSQL's `pg_saslprep` applies it: ASCII passes unchanged, and a
 * password that SASLprep rejects is used as it is — the server did the same when it computed
 * the stored verifier, so both sides agree. Not checked here: bidirectional text and
 * unassigned code points; such a password simply fails to log in rather than leak anything.
 */
export function saslPrep(password: string): string {
  // deno-lint-ignore no-control-regex
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  const mapped = password.replace(NON_ASCII_SPACE, " ").replace(MAPPED_TO_NOTHING, "")
    .normalize("NFKC");
  if (mapped === "" || PROHIBITED.test(mapped)) return password;
  return mapped;
}
