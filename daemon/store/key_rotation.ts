/**
 * Rotating the signing key of an open store, and declaring a lost one. The steps are ordered so
 * that a crash at any point leaves either the old key signing (the rotation did not happen; its
 * event, if written, is an ordinary event) or the new one installed with its handover recorded:
 *
 * 1. a new key is generated and written as `keys/pending.key` (0600), its public half kept in
 *    `keys/history/`;
 * 2. the KEY_ROTATE event is appended and a checkpoint covering it is signed by the old key;
 * 3. the handover (event, checkpoint, inclusion proof) is appended to `keys/handovers.jsonl`;
 * 4. the new key signs a checkpoint of the same log at once (so it vouches for everything before
 *    it too), and then `pending.key` becomes `signing.key`.
 *
 * On open, `settlePendingKey` finishes step 4 when step 3 happened and discards the pending key
 * otherwise.
 */

import type { NewEvent } from "../event/model.ts";
import { log } from "../log.ts";
import type { Checkpoint } from "./checkpoint.ts";
import { appendHandover, type Handover, keyEvent, parseKeyEvent } from "./key_handover.ts";
import {
  generateKey,
  hex,
  keepPublicKey,
  keyFromPkcs8,
  type NewSigningKey,
  PENDING_KEY_FILE,
  PRIVATE_KEY_FILE,
  PUBLIC_KEY_FILE,
  publicKeyPem,
  type SigningKey,
  syncKeyDir,
  unhex,
  writeFileAtomic,
} from "./keys.ts";
import { readLog } from "./log_reader.ts";
import { inclusionProof, leafHash, verifyInclusion } from "./merkle.ts";
import { openMerkleReader } from "./merkle_log.ts";
import { storePaths } from "./store_open.ts";

/** Who rotates and why: recorded in the event. */
export interface RotateOptions {
  /** The acting user (a UI user name, or the OS user for the CLI). */
  by?: string;
  reason?: string;
}

/** What a rotation did. */
export interface RotationResult {
  oldKeyId: string;
  newKeyId: string;
  /** Seq of the KEY_ROTATE / KEY_LOSS_DECLARED event. */
  seq: number;
  /** The checkpoint that covers the event (old key; new key for a declared loss). */
  handoverCheckpoint: Checkpoint;
  declaredLoss: boolean;
}

/** What `Store` lends a rotation: run inside its checkpoint queue, so nothing signs between. */
export interface RotationHost {
  dataDir: string;
  key(): SigningKey;
  setKey(key: SigningKey): void;
  append(events: NewEvent[]): Promise<number>;
  /** Signs a checkpoint of the durable log now; `publish` false keeps it off checkpoints.jsonl. */
  sign(publish: boolean): Promise<Checkpoint>;
  publish(cp: Checkpoint): Promise<void>;
}

/** A lost key being replaced: what `openStore` found, and the key that replaces it. */
export interface LostKey {
  keyId: string;
  publicRaw?: Uint8Array;
  next: NewSigningKey;
}

/** Rotates: steps 1–4 above. */
export async function rotateKey(host: RotationHost, opts: RotateOptions): Promise<RotationResult> {
  const keysDir = storePaths(host.dataDir).keys;
  const old = host.key();
  const next = await generateKey();
  await writePending(keysDir, next);
  let seq: number, cp: Checkpoint;
  try {
    seq = await host.append([keyEvent({
      old: { keyId: old.keyId, publicRaw: old.publicRaw },
      next: next.key,
      declaredLoss: false,
      tsUs: Date.now() * 1000,
      by: opts.by,
      reason: opts.reason,
    })]);
    cp = await host.sign(true);
    await appendHandover(keysDir, await buildHandover(host.dataDir, seq, cp));
  } catch (e) {
    await Deno.remove(`${keysDir}/${PENDING_KEY_FILE}`).catch(() => {});
    throw new Error(`Cannot rotate the signing key ${old.keyId}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  // The new key signs before its files replace the old ones: a reader that finds the new
  // signing.pub also finds a checkpoint by it. A crash in between is finished at the next open.
  host.setKey(next.key);
  await host.sign(true);
  await installPending(keysDir, next.key);
  log("info", "rotated the signing key", {
    old_key_id: old.keyId,
    new_key_id: next.key.keyId,
    seq,
  });
  return {
    oldKeyId: old.keyId,
    newKeyId: next.key.keyId,
    seq,
    handoverCheckpoint: cp,
    declaredLoss: false,
  };
}

/**
 * Declares `lost` gone and installs its replacement (already the host's key): the event, a
 * checkpoint by the new key held back until the handover naming it is recorded (a crash before
 * leaves no checkpoint by a key nobody announced), then the key files.
 */
export async function declareLoss(
  host: RotationHost,
  lost: LostKey,
  opts: RotateOptions,
): Promise<RotationResult> {
  const keysDir = storePaths(host.dataDir).keys;
  const seq = await host.append([keyEvent({
    old: { keyId: lost.keyId, publicRaw: lost.publicRaw },
    next: lost.next.key,
    declaredLoss: true,
    tsUs: Date.now() * 1000,
    by: opts.by,
    reason: opts.reason,
  })]);
  const cp = await host.sign(false);
  await appendHandover(keysDir, await buildHandover(host.dataDir, seq, cp));
  await host.publish(cp);
  await installPending(keysDir, lost.next.key);
  log("warn", "declared the signing key lost and started a new one", {
    lost_key_id: lost.keyId,
    new_key_id: lost.next.key.keyId,
    seq,
  });
  return {
    oldKeyId: lost.keyId,
    newKeyId: lost.next.key.keyId,
    seq,
    handoverCheckpoint: cp,
    declaredLoss: true,
  };
}

/** Writes a rotation's new private key as `pending.key` and keeps its public half. */
export async function writePending(keysDir: string, next: NewSigningKey): Promise<void> {
  await keepPublicKey(keysDir, next.key.publicRaw);
  await writeFileAtomic(`${keysDir}/${PENDING_KEY_FILE}`, next.pkcs8, 0o600);
  await syncKeyDir(keysDir);
}

/** Makes `pending.key` the signing key. */
async function installPending(keysDir: string, key: SigningKey): Promise<void> {
  await writeFileAtomic(`${keysDir}/${PUBLIC_KEY_FILE}`, publicKeyPem(key.publicRaw), 0o644);
  await Deno.rename(`${keysDir}/${PENDING_KEY_FILE}`, `${keysDir}/${PRIVATE_KEY_FILE}`);
  await syncKeyDir(keysDir);
}

/** The handover record of the event at `seq` under `cp`, its proof checked before it is kept. */
async function buildHandover(dataDir: string, seq: number, cp: Checkpoint): Promise<Handover> {
  let json: string | undefined;
  for await (const r of readLog(dataDir, { fromSeq: seq, toSeq: seq + 1 })) json = r.json;
  if (json === undefined) throw new Error(`the key event at seq ${seq} is not in the log`);
  const levels = await openMerkleReader(dataDir);
  try {
    const proof = await levels.read(() => inclusionProof(seq, cp.size, levels));
    const leaf = leafHash(new TextEncoder().encode(json));
    if (!verifyInclusion(leaf, seq, cp.size, proof, unhex(cp.root))) {
      throw new Error(`the inclusion proof of seq ${seq} does not verify: run vigil verify`);
    }
    return { v: 1, seq, event: json, checkpoint: cp, proof: proof.map(hex) };
  } finally {
    levels.close();
  }
}

/**
 * Finishes or discards a rotation a crash cut off: a `pending.key` named by the last recorded
 * handover is installed; any other is removed (its rotation never took effect).
 */
export async function settlePendingKey(keysDir: string, handovers: Handover[]): Promise<void> {
  let pkcs8: Uint8Array;
  try {
    pkcs8 = await Deno.readFile(`${keysDir}/${PENDING_KEY_FILE}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  const pending = await keyFromPkcs8(pkcs8);
  const last = handovers[handovers.length - 1];
  if (last && parseKeyEvent(last.event, last.seq).newKeyId === pending.keyId) {
    await installPending(keysDir, pending);
    log("warn", "finished a key rotation that a crash cut off", { new_key_id: pending.keyId });
  } else {
    await Deno.remove(`${keysDir}/${PENDING_KEY_FILE}`);
    log("warn", "discarded the new key of a rotation that a crash cut off before it was recorded", {
      key_id: pending.keyId,
    });
  }
}
