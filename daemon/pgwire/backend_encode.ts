/**
 * Messages a server side sends, for a relay that must answer a client itself (the proxy):
 * ErrorResponse, the SSL answer byte, a message rebuilt from its type and body, and the
 * CancelRequest it forwards. Each function returns the complete message, ready to write.
 */

const encoder = new TextEncoder();

/** A message of `type` with `body`: type byte, int32 length, body. */
export function frameMessage(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type;
  new DataView(out.buffer).setInt32(1, body.length + 4);
  out.set(body, 5);
  return out;
}

/** The fields of an ErrorResponse a relay sends. */
export interface ErrorFields {
  /** `ERROR` or `FATAL`. */
  severity: "ERROR" | "FATAL";
  /** SQLSTATE, five characters. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

/** ErrorResponse ('E') with severity (localised and not), SQLSTATE, message, detail, hint. */
export function errorResponse(fields: ErrorFields): Uint8Array {
  const parts: [string, string][] = [
    ["S", fields.severity],
    ["V", fields.severity],
    ["C", fields.code],
    ["M", fields.message],
  ];
  if (fields.detail !== undefined) parts.push(["D", fields.detail]);
  if (fields.hint !== undefined) parts.push(["H", fields.hint]);
  const chunks = parts.map(([code, text]) =>
    encoder.encode(code + text.replaceAll("\0", " ") + "\0")
  );
  const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0) + 1);
  let pos = 0;
  for (const c of chunks) {
    body.set(c, pos);
    pos += c.length;
  }
  return frameMessage(0x45, body);
}

/** AuthenticationSASL ('R', code 10) offering `mechanisms`. */
export function authenticationSasl(mechanisms: readonly string[]): Uint8Array {
  const names = encoder.encode(mechanisms.map((m) => m + "\0").join("") + "\0");
  const body = new Uint8Array(4 + names.length);
  new DataView(body.buffer).setInt32(0, 10);
  body.set(names, 4);
  return frameMessage(0x52, body);
}

/** The magic "protocol version" of a CancelRequest (1234 << 16 | 5678). */
export const CANCEL_REQUEST_CODE = 80877102;
/** SSLRequest's (1234 << 16 | 5679). */
export const SSL_REQUEST_CODE = 80877103;
/** GSSENCRequest's (1234 << 16 | 5680). */
export const GSSENC_REQUEST_CODE = 80877104;

/** CancelRequest for the backend `pid` with its secret `key`. */
export function cancelRequest(pid: number, key: number): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setInt32(0, 16);
  view.setInt32(4, CANCEL_REQUEST_CODE);
  view.setInt32(8, pid);
  view.setInt32(12, key);
  return out;
}
