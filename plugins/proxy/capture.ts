/**
 * How much of each message after login the proxy reads, and what it refuses outright: the
 * policy a session's `FrameScanner`s follow in each direction. Everything past what these say
 * streams through unread, so a huge statement or result costs the proxy no more memory than
 * its captured head. The tracker (`tracker.ts`) sees only what is captured here.
 */

import { describeType } from "../../daemon/pgwire/frames.ts";

/** Message types a client may send after the startup packet. */
const CLIENT_TYPES = new Set("QPBEDCSHFdcfXp".split("").map((c) => c.charCodeAt(0)));
/** Client messages with no body. */
const EMPTY_TYPES = new Set("SHXc".split("").map((c) => c.charCodeAt(0)));

/**
 * Body bytes of a client message to keep: a statement's text up to `recordBytes` (and room for
 * its parameters), the whole of the small control messages, nothing of COPY data.
 */
export function clientCapture(type: number, length: number, recordBytes: number): number {
  if (type === 0x51 || type === 0x50 || type === 0x42) return recordBytes + 1024;
  if (type === 0x45 || type === 0x44 || type === 0x43 || type === 0x46) return length;
  return 0;
}

/** Refuses what no client may send: an unknown type, a body where none belongs. */
export function clientCheck(type: number, length: number): void {
  if (!CLIENT_TYPES.has(type)) {
    throw new SyntaxError(`Unknown message type ${describeType(type)} from the client`);
  }
  if (EMPTY_TYPES.has(type) && length !== 0) {
    throw new SyntaxError(`A ${describeType(type)} message with a body of ${length} bytes`);
  }
  if ((type === 0x45 || type === 0x44 || type === 0x43 || type === 0x46) && length > 65536) {
    throw new SyntaxError(`A ${describeType(type)} message of ${length} bytes`);
  }
}

/** Body bytes of a server message to keep. */
export function serverCapture(type: number, length: number): number {
  switch (type) {
    case 0x43: // C CommandComplete
    case 0x5a: // Z ReadyForQuery
    case 0x74: // t ParameterDescription
    case 0x4b: // K BackendKeyData
      return length;
    case 0x45: // E ErrorResponse
    case 0x4e: // N NoticeResponse
      return Math.min(length, 16384);
    default:
      return 0;
  }
}
