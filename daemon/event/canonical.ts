/**
 * The canonical byte encoding of an event: UTF-8 JSON with keys in schema order, absent fields
 * omitted, no white space. These bytes are what the store frames, chains and hashes as a Merkle
 * leaf, and what an exported row must reproduce exactly so that a bundle verifies offline.
 * `encodeEvent(decodeEvent(b))` returns `b` for every `b` that `encodeEvent` produced.
 */

import { type AuditEvent, EVENT_FIELDS } from "./model.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

const NAMES: readonly string[] = EVENT_FIELDS.map((f) => f.name);

/**
 * The event with its keys in schema order and absent fields left out, `seq` and `ingest_ts`
 * taken from the arguments when given: the object whose JSON text is canonical.
 */
export function canonicalEvent(
  ev: Partial<AuditEvent>,
  seq?: number,
  ingestTs?: number,
): AuditEvent {
  const rec = ev as Record<string, unknown>;
  const ordered: Record<string, unknown> = {};
  for (let i = 0; i < NAMES.length; i++) {
    const k = NAMES[i]!;
    const v = k === "seq" && seq !== undefined
      ? seq
      : k === "ingest_ts" && ingestTs !== undefined && rec[k] == null
      ? ingestTs
      : rec[k];
    if (v !== undefined && v !== null) ordered[k] = v;
  }
  return ordered as unknown as AuditEvent;
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
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (e) {
    // A fatal TextDecoder throws TypeError; bad input here is undecodable, not bad config.
    throw new SyntaxError("Cannot decode event: not valid UTF-8", { cause: e });
  }
  const v = JSON.parse(text) as unknown;
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new SyntaxError("Cannot decode event: not a JSON object");
  }
  return v as AuditEvent;
}
