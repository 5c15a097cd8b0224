/**
 * Builds the frontend messages Vigil sends: startup, SSL request, password and SASL responses,
 * simple query, CopyData, CopyDone and Terminate. Each function returns the complete message
 * (type byte, length, body) ready to be written in one call.
 */

const encoder = new TextEncoder();

/** Protocol 3.0, as every PostgreSQL since 7.4 speaks it. */
const PROTOCOL_VERSION = 196608;
/** The magic "protocol version" of an SSLRequest (1234 << 16 | 5679). */
const SSL_REQUEST_CODE = 80877103;

/** A growable byte buffer for one message; sizes are patched in at the end. */
class MessageBuilder {
  #buf = new Uint8Array(64);
  #view = new DataView(this.#buf.buffer);
  #pos = 0;

  byte(value: number): this {
    this.#reserve(1);
    this.#buf[this.#pos++] = value;
    return this;
  }

  int32(value: number): this {
    this.#reserve(4);
    this.#view.setInt32(this.#pos, value);
    this.#pos += 4;
    return this;
  }

  int64(value: bigint): this {
    this.#reserve(8);
    this.#view.setBigUint64(this.#pos, value);
    this.#pos += 8;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.#reserve(value.length);
    this.#buf.set(value, this.#pos);
    this.#pos += value.length;
    return this;
  }

  /** A NUL-terminated UTF-8 string; a NUL inside would end it early, so it is refused. */
  cstring(value: string): this {
    if (value.includes("\0")) throw new TypeError(`A protocol string cannot hold NUL: ${value}`);
    return this.bytes(encoder.encode(value)).byte(0);
  }

  /** The message with its int32 length (which counts itself) written at `lengthAt`. */
  finish(lengthAt: number): Uint8Array {
    this.#view.setInt32(lengthAt, this.#pos - lengthAt);
    return this.#buf.slice(0, this.#pos);
  }

  #reserve(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#pos + n));
    grown.set(this.#buf);
    this.#buf = grown;
    this.#view = new DataView(grown.buffer);
  }
}

/** A typed message: type byte, then length, then whatever `body` writes. */
function typed(type: string, body: (b: MessageBuilder) => void): Uint8Array {
  const b = new MessageBuilder().byte(type.charCodeAt(0)).int32(0);
  body(b);
  return b.finish(1);
}

/** StartupMessage with its parameters (user, database, replication, …) in order. */
export function startupMessage(params: Readonly<Record<string, string>>): Uint8Array {
  const b = new MessageBuilder().int32(0).int32(PROTOCOL_VERSION);
  for (const [key, value] of Object.entries(params)) b.cstring(key).cstring(value);
  return b.byte(0).finish(0);
}

/** SSLRequest: asks the server whether it will speak TLS on this connection. */
export function sslRequest(): Uint8Array {
  return new MessageBuilder().int32(0).int32(SSL_REQUEST_CODE).finish(0);
}

/** PasswordMessage for cleartext and md5 authentication. */
export function passwordMessage(password: string): Uint8Array {
  return typed("p", (b) => b.cstring(password));
}

/** SASLInitialResponse: the chosen mechanism and the client-first-message. */
export function saslInitialResponse(mechanism: string, data: string): Uint8Array {
  const bytes = encoder.encode(data);
  return typed("p", (b) => b.cstring(mechanism).int32(bytes.length).bytes(bytes));
}

/** SASLResponse: the client-final-message. */
export function saslResponse(data: string): Uint8Array {
  return typed("p", (b) => b.bytes(encoder.encode(data)));
}

/** Query: one or more SQL (or replication) commands in the simple query protocol. */
export function queryMessage(sql: string): Uint8Array {
  return typed("Q", (b) => b.cstring(sql));
}

/**
 * CopyData carrying a Standby Status Update ('r'): written, flushed and applied positions,
 * the client's clock (µs since 2000-01-01) and whether the server should reply at once.
 */
export function standbyStatusUpdate(
  positions: { write: bigint; flush: bigint; apply: bigint },
  clockMicros: bigint,
  replyRequested = false,
): Uint8Array {
  return typed(
    "d",
    (b) =>
      b.byte(0x72).int64(positions.write).int64(positions.flush).int64(positions.apply)
        .int64(clockMicros).byte(replyRequested ? 1 : 0),
  );
}

/** CopyDone: ends the client's half of a COPY (here: of the replication stream). */
export function copyDone(): Uint8Array {
  return typed("c", () => {});
}

/** Terminate: says goodbye before the socket is closed, so the server logs no EOF error. */
export function terminateMessage(): Uint8Array {
  return typed("X", () => {});
}
