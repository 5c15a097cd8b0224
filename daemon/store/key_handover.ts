/**
 * Key handovers: how the chain records that one signing key replaced another. A rotation appends
 * a `system` event (command KEY_ROTATE) naming the old and new key ids and both public keys, has
 * the *old* key sign a checkpoint covering it, and only then signs with the new key. A declared
 * loss (KEY_LOSS_DECLARED, `vigil key rotate --recover`) is the same event when the old private
 * key is gone: its checkpoint is signed by the new key, so verification reports it as a declared
 * loss, not as a handover the old key vouched for.
 *
 * Each handover is also kept self-contained in `keys/handovers.jsonl`: the event's canonical
 * JSON, its seq, the checkpoint that covers it and the inclusion proof of the event in that
 * checkpoint's tree. A verifier needs nothing else to follow the keys — not the segments (which
 * retention may have deleted), and not the appliance (bundles carry the same records).
 */

import type { AuditEvent, JsonObject, NewEvent } from "../event/model.ts";
import { type Checkpoint, parseCheckpoint } from "./checkpoint.ts";
import { base64, keyIdOf, type SigningKey, syncKeyDir, unbase64, unhex } from "./keys.ts";
import { leafHash, verifyInclusion } from "./merkle.ts";

/** The file of handovers inside the keys directory. */
export const HANDOVERS_FILE = "handovers.jsonl";
/** `source` of the key events: the daemon's own. */
export const KEY_EVENT_SOURCE = "vigil";
export const KEY_ROTATE = "KEY_ROTATE";
export const KEY_LOSS_DECLARED = "KEY_LOSS_DECLARED";

/** One handover as kept on disk and in bundle manifests. */
export interface Handover {
  v: 1;
  /** Seq of the key event. */
  seq: number;
  /** The key event's canonical JSON: the Merkle leaf data. */
  event: string;
  /** Checkpoint covering the event: by the old key (rotation) or the new one (declared loss). */
  checkpoint: Checkpoint;
  /** Inclusion proof of the event in the checkpoint's tree, hex hashes. */
  proof: string[];
}

/** What a key event says, once checked. */
export interface KeyChange {
  seq: number;
  ts: number;
  declaredLoss: boolean;
  oldKeyId: string;
  /** Absent only for a declared loss whose public key was lost too. */
  oldPublic?: Uint8Array;
  newKeyId: string;
  newPublic: Uint8Array;
  by?: string;
  reason?: string;
}

/** The event that records a rotation (or, with `declaredLoss`, a lost key replaced). */
export function keyEvent(opts: {
  old: { keyId: string; publicRaw?: Uint8Array | undefined };
  next: SigningKey;
  declaredLoss: boolean;
  tsUs: number;
  by?: string | undefined;
  reason?: string | undefined;
}): NewEvent {
  const context: JsonObject = {
    old_key_id: opts.old.keyId,
    new_key_id: opts.next.keyId,
    new_public_key: base64(opts.next.publicRaw),
  };
  if (opts.old.publicRaw) context.old_public_key = base64(opts.old.publicRaw);
  if (opts.reason) context.reason = opts.reason;
  const ev: NewEvent = {
    ts: opts.tsUs,
    source: KEY_EVENT_SOURCE,
    kind: "system",
    object: `signing key ${opts.next.keyId}`,
    object_type: "signing key",
    command: opts.declaredLoss ? KEY_LOSS_DECLARED : KEY_ROTATE,
    statement: opts.declaredLoss
      ? `signing key ${opts.old.keyId} declared lost; key ${opts.next.keyId} signs from here on`
      : `signing key ${opts.old.keyId} hands over to key ${opts.next.keyId}`,
    context,
  };
  if (opts.by) ev.role = ev.app_user = opts.by;
  return ev;
}

/** Reads a key event out of its canonical JSON; throws SyntaxError naming what is wrong. */
export function parseKeyEvent(json: string, seq: number): KeyChange {
  let e: AuditEvent;
  try {
    e = JSON.parse(json);
  } catch {
    throw new SyntaxError("the key event is not JSON");
  }
  const ctx = e?.context;
  const str = (k: string): string | undefined =>
    typeof ctx?.[k] === "string" ? ctx[k] as string : undefined;
  if (e?.kind !== "system" || (e.command !== KEY_ROTATE && e.command !== KEY_LOSS_DECLARED)) {
    throw new SyntaxError("the event is not a KEY_ROTATE or KEY_LOSS_DECLARED system event");
  }
  if (e.seq !== seq) throw new SyntaxError(`the event has seq ${e.seq}, not ${seq}`);
  const oldKeyId = str("old_key_id"), newKeyId = str("new_key_id"), newPub = str("new_public_key");
  if (!oldKeyId || !newKeyId || !newPub) {
    throw new SyntaxError("the event lacks old_key_id, new_key_id or new_public_key");
  }
  const newPublic = unbase64(newPub);
  if (newPublic.length !== 32 || keyIdOf(newPublic) !== newKeyId) {
    throw new SyntaxError(`new_public_key is not the Ed25519 key ${newKeyId}`);
  }
  const change: KeyChange = {
    seq,
    ts: e.ts,
    declaredLoss: e.command === KEY_LOSS_DECLARED,
    oldKeyId,
    newKeyId,
    newPublic,
  };
  const oldPub = str("old_public_key");
  if (oldPub !== undefined) {
    const oldPublic = unbase64(oldPub);
    if (oldPublic.length !== 32 || keyIdOf(oldPublic) !== oldKeyId) {
      throw new SyntaxError(`old_public_key is not the Ed25519 key ${oldKeyId}`);
    }
    change.oldPublic = oldPublic;
  } else if (!change.declaredLoss) {
    throw new SyntaxError("a KEY_ROTATE event must carry old_public_key");
  }
  if (e.app_user) change.by = e.app_user;
  if (str("reason")) change.reason = str("reason")!;
  return change;
}

/**
 * Checks a handover's own evidence — the event is a key event and its inclusion proof leads to
 * the checkpoint's root — and returns what it says. The checkpoint's signature is the key
 * chain's to check (`key_chain.ts`): which key must have signed depends on the keys before it.
 */
export function openHandover(h: Handover): KeyChange {
  const change = parseKeyEvent(h.event, h.seq);
  const leaf = leafHash(new TextEncoder().encode(h.event));
  let proof: Uint8Array[];
  try {
    proof = h.proof.map(unhex);
  } catch {
    throw new SyntaxError("the inclusion proof is not hex");
  }
  if (
    h.seq >= h.checkpoint.size ||
    !verifyInclusion(leaf, h.seq, h.checkpoint.size, proof, unhex(h.checkpoint.root))
  ) {
    throw new SyntaxError(
      `the event is not in the tree of the checkpoint of size ${h.checkpoint.size} it names: ` +
        `the event or its proof was altered`,
    );
  }
  return change;
}

/** Parses one handover (a JSON line or a parsed value); throws SyntaxError. */
export function parseHandover(v: unknown): Handover {
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      throw new SyntaxError("not JSON");
    }
  }
  const h = v as Partial<Handover>;
  if (
    typeof h !== "object" || h === null || h.v !== 1 || !Number.isSafeInteger(h.seq) ||
    h.seq! < 0 || typeof h.event !== "string" || !Array.isArray(h.proof) ||
    !h.proof.every((p) => typeof p === "string")
  ) {
    throw new SyntaxError("missing or mistyped handover fields");
  }
  return {
    v: 1,
    seq: h.seq!,
    event: h.event,
    checkpoint: parseCheckpoint(JSON.stringify(h.checkpoint)),
    proof: h.proof,
  };
}

/** Reads the handovers of a keys directory (none when the file does not exist). */
export async function readHandovers(keysDir: string): Promise<Handover[]> {
  const path = `${keysDir}/${HANDOVERS_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  // Only whole lines: a line without its newline is a write a crash cut off.
  const lines = text.slice(0, text.lastIndexOf("\n") + 1).split("\n").slice(0, -1);
  return lines.map((line, i) => {
    try {
      return parseHandover(line);
    } catch (e) {
      throw new SyntaxError(`${path} line ${i + 1}: ${(e as Error).message}`);
    }
  });
}

/** Appends one handover and makes it durable. */
export async function appendHandover(keysDir: string, h: Handover): Promise<void> {
  const path = `${keysDir}/${HANDOVERS_FILE}`;
  // A torn last line from an earlier crash would swallow this one: cut it off first.
  try {
    const text = await Deno.readTextFile(path);
    const whole = text.lastIndexOf("\n") + 1;
    if (whole < text.length) {
      await Deno.truncate(path, new TextEncoder().encode(text.slice(0, whole)).length);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const f = await Deno.open(path, { append: true, create: true, mode: 0o644 });
  try {
    await f.write(new TextEncoder().encode(JSON.stringify(h) + "\n"));
    await f.syncData();
  } finally {
    f.close();
  }
  await syncKeyDir(keysDir);
}

/** One key of a data dir's history, for listing. */
export interface KeyHistoryEntry {
  keyId: string;
  current: boolean;
  /** The event that introduced it; absent for the first key. */
  introduced?: {
    seq: number;
    ts: number;
    declaredLoss: boolean;
    by?: string;
  };
}

/**
 * The keys of a data dir, oldest first, from its recorded handovers (not verified: `vigil
 * verify` does that). `currentKeyId` is the key that signs now.
 */
export async function keyHistory(
  keysDir: string,
  currentKeyId: string,
): Promise<KeyHistoryEntry[]> {
  const changes = (await readHandovers(keysDir)).map((h) => parseKeyEvent(h.event, h.seq));
  const out: KeyHistoryEntry[] = [{
    keyId: changes[0]?.oldKeyId ?? currentKeyId,
    current: false,
  }];
  for (const ch of changes) {
    const introduced: NonNullable<KeyHistoryEntry["introduced"]> = {
      seq: ch.seq,
      ts: ch.ts,
      declaredLoss: ch.declaredLoss,
    };
    if (ch.by !== undefined) introduced.by = ch.by;
    out.push({ keyId: ch.newKeyId, current: false, introduced });
  }
  for (const e of out) e.current = e.keyId === currentKeyId;
  return out;
}
