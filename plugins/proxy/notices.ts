/**
 * What the proxy keeps of the server's NoticeResponse and ErrorResponse messages. Their bodies
 * come from the server but pass through unchecked on the client's way, so reading one never
 * throws: an unreadable one stands as a generic error. A statement keeps at most
 * {@link NOTICES_KEPT} notices of at most {@link NOTICE_CHARS} characters each, whatever the
 * server sends.
 */

import { parseNotice, type PgNotice } from "../../daemon/pgwire/errors.ts";

const NOTICES_KEPT = 8;
const NOTICE_CHARS = 1000;

/** The notice or error in `body`, or a generic error when it cannot be read. */
export function safeNotice(body: Uint8Array): PgNotice {
  try {
    return parseNotice(body);
  } catch {
    return { severity: "ERROR", code: "XX000", message: "(unreadable error message)", fields: {} };
  }
}

/** Adds the notice in `body` to a statement's `notices`, within the bounds above. */
export function keepNotice(op: { notices?: string[] | undefined }, body: Uint8Array): void {
  if ((op.notices ??= []).length >= NOTICES_KEPT) return;
  const n = safeNotice(body);
  op.notices.push(`${n.severity} ${n.code} ${n.message}`.slice(0, NOTICE_CHARS));
}
