/**
 * The canonical byte encoding of an event: UTF-8 JSON with keys in schema order, absent fields
 * omitted, no white space. These bytes are what the store frames, chains and hashes as a Merkle
 * leaf, and what an exported row must reproduce exactly so that a bundle verifies offline.
 * `encodeEvent(decodeEvent(b))` returns `b` for every `b` that `encodeEvent` produced.
 */

import type { AuditEvent } from "./model.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

const n = <T>(x: T | null | undefined): T | undefined => (x === null ? undefined : x);

/**
 * The event with its keys in schema order, `seq` and `ingest_ts` taken from the arguments when
 * given: the object whose JSON text is canonical (JSON.stringify leaves out the undefined ones).
 * Written out as one literal so that every event has the same shape, which makes
 * JSON.stringify markedly faster than building the object key by key; a test keeps the key
 * order equal to EVENT_FIELDS.
 */
export function canonicalEvent(
  e: Partial<AuditEvent>,
  seq?: number,
  ingestTs?: number,
): AuditEvent {
  return {
    seq: seq ?? e.seq,
    ts: e.ts,
    ingest_ts: n(e.ingest_ts) ?? ingestTs,
    source: e.source,
    source_pos: n(e.source_pos),
    kind: e.kind,
    db: n(e.db),
    schema: n(e.schema),
    object: n(e.object),
    object_type: n(e.object_type),
    role: n(e.role),
    app_user: n(e.app_user),
    client_addr: n(e.client_addr),
    application_name: n(e.application_name),
    session_id: n(e.session_id),
    pid: n(e.pid),
    xid: n(e.xid),
    class: n(e.class),
    command: n(e.command),
    audit_type: n(e.audit_type),
    statement_id: n(e.statement_id),
    substatement_id: n(e.substatement_id),
    statement: n(e.statement),
    params: n(e.params),
    old_row: n(e.old_row),
    new_row: n(e.new_row),
    context: n(e.context),
    sqlstate: n(e.sqlstate),
    error: n(e.error),
    redacted: n(e.redacted),
    raw: n(e.raw),
    parse_error: n(e.parse_error),
    rows: n(e.rows),
    token: n(e.token),
  } as AuditEvent;
}

/** The canonical JSON text of an event. Values are assumed valid (see `validateEvent`). */
export function canonicalJson(ev: AuditEvent): string {
  // One native JSON.stringify over an object built in schema order is faster than stringifying
  // field by field; nested objects keep their own key order, as given.
  return JSON.stringify(canonicalEvent(ev));
}

/** The canonical bytes of an event. */
export function encodeEvent(ev: AuditEvent): Uint8Array {
  return encoder.encode(canonicalJson(ev));
}

/** Decodes canonical bytes back into an event. Throws SyntaxError on anything else. */
export function decodeEvent(bytes: Uint8Array): AuditEvent {
  return decodeEventText(bytes).event;
}

/**
 * Decodes canonical bytes back into an event and its JSON text (decoded once, for readers that
 * need both). Throws SyntaxError on anything else.
 */
export function decodeEventText(bytes: Uint8Array): { event: AuditEvent; json: string } {
  let json: string;
  try {
    json = decoder.decode(bytes);
  } catch (e) {
    // A fatal TextDecoder throws TypeError; bad input here is undecodable, not bad config.
    throw new SyntaxError("Cannot decode event: not valid UTF-8", { cause: e });
  }
  const v = JSON.parse(json) as unknown;
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new SyntaxError("Cannot decode event: not a JSON object");
  }
  return { event: v as AuditEvent, json };
}
