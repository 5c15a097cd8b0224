/**
 * Following the signing keys of a log from one trusted public key. The handovers
 * (`key_handover.ts`) give the sequence of keys; each rotation is accepted only when the
 * checkpoint covering its event is signed by the key it replaces. Every checkpoint must then be
 * signed by the key in use at its size: a key id no handover introduced, or a key signing after
 * it was rotated out (or before it took over), is a problem that names the checkpoint.
 *
 * The trusted key may be the first key (an auditor's copy from the start) or a later one (the
 * key on the box today). Keys before it are vouched for by what the trusted key signed over
 * them: the caller says whether something it trusts (a checkpoint or manifest signed by the
 * trusted key or a later one) covers the earlier handovers.
 */

import { type Checkpoint, verifyCheckpoint } from "./checkpoint.ts";
import { type Handover, type KeyChange, openHandover } from "./key_handover.ts";
import { hex, keyIdOf } from "./keys.ts";

/** One key of a log and the checkpoint sizes it may sign. */
export interface KeySpan {
  keyId: string;
  /** Null only for a key declared lost whose public half was lost with it. */
  publicRaw: Uint8Array | null;
  /** Smallest checkpoint size it may sign: it must cover the event that introduced the key. */
  fromSize: number;
  /** Largest checkpoint size it may sign, or null while in use. */
  toSize: number | null;
  /** Seq of the event that introduced it, or null for the first key. */
  introducedAt: number | null;
  /** True when it was introduced by a declared loss, not by the key before it. */
  declaredLoss: boolean;
}

/** A declared loss met on the way. */
export interface KeyLoss {
  seq: number;
  ts: number;
  oldKeyId: string;
  newKeyId: string;
}

/** The keys of a log, or the first problem with them. */
export interface KeyChain {
  keys: KeySpan[];
  /** Index in `keys` of the trusted key (-1 when it is none of them). */
  anchor: number;
  losses: KeyLoss[];
  problem?: string;
}

/** A checkpoint with the name a problem calls it by ("checkpoint #3"). */
export interface LabeledCheckpoint {
  c: Checkpoint;
  label: string;
}

/**
 * Resolves the keys from `anchor` (a trusted raw public key) through `handovers` and checks
 * every checkpoint's signature and key period. `covered` tells whether something outside the
 * checkpoints, signed by the anchor or a later key, covers the whole input (a bundle's
 * manifest); otherwise a checkpoint of such a key must exist for earlier keys to count.
 */
export async function resolveKeyChain(opts: {
  anchor: Uint8Array;
  handovers: readonly Handover[];
  checkpoints: readonly LabeledCheckpoint[];
  covered?: boolean;
}): Promise<KeyChain> {
  const anchorId = keyIdOf(opts.anchor);
  const out: KeyChain = { keys: [], anchor: -1, losses: [] };
  const fail = (problem: string): KeyChain => ({ ...out, problem });

  const changes: KeyChange[] = [];
  for (const [i, h] of opts.handovers.entries()) {
    try {
      changes.push(openHandover(h));
    } catch (e) {
      return fail(`key handover #${i + 1} (seq ${h.seq}): ${(e as Error).message}`);
    }
  }
  const first = changes[0];
  const firstPub = first
    ? first.oldPublic ?? (first.oldKeyId === anchorId ? opts.anchor : null)
    : opts.anchor;
  const keys: KeySpan[] = out.keys;
  keys.push({
    keyId: first ? first.oldKeyId : anchorId,
    publicRaw: firstPub,
    fromSize: 0,
    toSize: null,
    introducedAt: null,
    declaredLoss: false,
  });
  for (const [i, ch] of changes.entries()) {
    const h = opts.handovers[i]!;
    const label = `key handover #${i + 1} (seq ${h.seq})`;
    const prev = keys[keys.length - 1]!;
    if (ch.oldKeyId !== prev.keyId) {
      return fail(`${label} replaces key ${ch.oldKeyId}, but the key in use then is ${prev.keyId}`);
    }
    if (ch.oldPublic && prev.publicRaw && hex(ch.oldPublic) !== hex(prev.publicRaw)) {
      return fail(`${label} names another public key for key ${prev.keyId}`);
    }
    prev.publicRaw ??= ch.oldPublic ?? null;
    if (ch.seq < (prev.introducedAt ?? -1)) {
      return fail(`${label} comes before the handover that introduced key ${prev.keyId}`);
    }
    const signer = ch.declaredLoss ? ch.newKeyId : ch.oldKeyId;
    const signerPub = ch.declaredLoss ? ch.newPublic : prev.publicRaw;
    if (
      h.checkpoint.key_id !== signer || !signerPub ||
      !(await verifyCheckpoint(h.checkpoint, signerPub))
    ) {
      return fail(
        `${label}: its checkpoint (size ${h.checkpoint.size}) has no valid signature by ` +
          `${ch.declaredLoss ? "the new" : "the old"} key ${signer}`,
      );
    }
    prev.toSize = ch.declaredLoss ? ch.seq : h.checkpoint.size;
    keys.push({
      keyId: ch.newKeyId,
      publicRaw: ch.newPublic,
      fromSize: ch.seq + 1,
      toSize: null,
      introducedAt: ch.seq,
      declaredLoss: ch.declaredLoss,
    });
    if (ch.declaredLoss) {
      out.losses.push({ seq: ch.seq, ts: ch.ts, oldKeyId: ch.oldKeyId, newKeyId: ch.newKeyId });
    }
  }

  out.anchor = keys.findIndex((k) =>
    k.keyId === anchorId && (k.publicRaw === null || hex(k.publicRaw) === hex(opts.anchor))
  );
  const firstCp = opts.checkpoints[0];
  if (out.anchor < 0) {
    const which = firstCp ? `${firstCp.label} (size ${firstCp.c.size})` : "the log";
    return fail(
      `${which} has no valid signature by key ${anchorId}: that key is none of this log's ` +
        `signing keys (${keys.map((k) => k.keyId).join(", ")})`,
    );
  }
  keys[out.anchor]!.publicRaw ??= opts.anchor;

  for (const { c, label } of opts.checkpoints) {
    const k = keys.find((x) => x.keyId === c.key_id);
    if (!k) {
      return fail(
        `${label} (size ${c.size}) has no valid signature by key ${keys[out.anchor]!.keyId}: ` +
          `it is signed by key ${c.key_id}, which no key rotation announced`,
      );
    }
    if (!k.publicRaw || !(await verifyCheckpoint(c, k.publicRaw))) {
      return fail(`${label} (size ${c.size}) has no valid signature by key ${c.key_id}`);
    }
    if (c.size < k.fromSize) {
      return fail(
        `${label} (size ${c.size}) is signed by key ${c.key_id} before the handover at seq ` +
          `${k.introducedAt} that introduced it`,
      );
    }
    if (k.toSize !== null && c.size > k.toSize) {
      return fail(
        `${label} (size ${c.size}) is signed by key ${c.key_id} after it was rotated out ` +
          `(its last checkpoint may cover ${k.toSize} events)`,
      );
    }
  }
  if (out.anchor > 0 && !opts.covered) {
    const later = new Set(keys.slice(out.anchor).map((k) => k.keyId));
    if (!opts.checkpoints.some(({ c }) => later.has(c.key_id))) {
      return fail(
        `key ${anchorId} has signed no checkpoint yet, so it cannot vouch for the keys before ` +
          `it; verify with the first key, or after the next checkpoint`,
      );
    }
  }
  return out;
}

/** "a1b2… → c3d4… (seq 42)": the keys of a chain for a one-line report. */
export function describeKeys(keys: readonly KeySpan[]): string {
  return keys.map((k, i) =>
    i === 0
      ? k.keyId
      : `${k.keyId} (${k.declaredLoss ? "declared loss" : "rotation"} at seq ${k.introducedAt})`
  ).join(" → ");
}
