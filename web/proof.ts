/**
 * An event's place in the log and its proof of membership: the segment that holds it, and an
 * RFC 9162 inclusion proof against the latest signed checkpoint — which the server checks (the
 * proof against the root, the checkpoint's signature against the public key) before showing
 * it, as `vigil prove` does. The JSON lets anyone re-check it with the public key alone — an
 * older one too: it carries the key handovers (`keys/handovers.jsonl`), each signed by the key it
 * retires, from which a verifier holding any earlier key reaches the one that signed.
 */

import { canonicalJson } from "../daemon/event/canonical.ts";
import type { AuditEvent } from "../daemon/event/model.ts";
import { type Checkpoint, readCheckpoints, verifyCheckpoint } from "../daemon/store/checkpoint.ts";
import { type Handover, readHandovers } from "../daemon/store/key_handover.ts";
import { hex, readPublicKey, unhex } from "../daemon/store/keys.ts";
import { inclusionProof, leafHash, verifyInclusion } from "../daemon/store/merkle.ts";
import { openMerkleReader } from "../daemon/store/merkle_log.ts";
import type { SeqReader } from "../daemon/store/seq_reader.ts";
import { listSegments } from "../daemon/store/segment_file.ts";
import { storePaths } from "../daemon/store/store_open.ts";

/** The latest signed checkpoint and whether its signature verifies, or null when none. */
export async function latestCheckpoint(
  dataDir: string,
): Promise<{ checkpoint: Checkpoint; signatureOk: boolean; count: number } | null> {
  const paths = storePaths(dataDir);
  const { checkpoints } = await readCheckpoints(paths.checkpoints);
  const cp = checkpoints[checkpoints.length - 1];
  if (!cp) return null;
  const signatureOk = await verifyCheckpoint(cp, await readPublicKey(paths.keys));
  return { checkpoint: cp, signatureOk, count: checkpoints.length };
}

/** The segment file holding `seq`, by name. */
export async function segmentOf(dataDir: string, seq: number): Promise<string | null> {
  const segs = await listSegments(storePaths(dataDir).segments);
  let name: string | null = null;
  for (const s of segs) if (s.firstSeq <= seq) name = s.name;
  return name;
}

/** A checked inclusion proof, or why there is none. */
export type ProofResult =
  | {
    ok: true;
    seq: number;
    tree_size: number;
    leaf_hash: string;
    inclusion_proof: string[];
    root: string;
    checkpoint: Checkpoint;
    signature_ok: boolean;
    /** Every signing-key handover of the log, oldest first; empty while the first key signs. */
    key_handovers: Handover[];
  }
  | { ok: false; reason: string };

/**
 * Builds and checks the inclusion proof of `event` against the latest checkpoint. Nodes below the
 * stored Merkle levels come from the log's records, through `reader` when given.
 */
export async function proveEvent(
  dataDir: string,
  event: AuditEvent,
  reader?: Promise<SeqReader>,
): Promise<ProofResult> {
  const latest = await latestCheckpoint(dataDir);
  if (!latest) return { ok: false, reason: "no signed checkpoint yet" };
  const cp = latest.checkpoint;
  if (event.seq >= cp.size) {
    return {
      ok: false,
      reason: `seq ${event.seq} is newer than the latest signed checkpoint (${cp.size} events); ` +
        `it is covered by the next one`,
    };
  }
  const levels = await openMerkleReader(dataDir, reader ? { reader } : {});
  try {
    const leaf = leafHash(new TextEncoder().encode(canonicalJson(event)));
    const proof = await levels.read(() => inclusionProof(event.seq, cp.size, levels));
    if (!verifyInclusion(leaf, event.seq, cp.size, proof, unhex(cp.root))) {
      return { ok: false, reason: "the inclusion proof does not verify: run a verification" };
    }
    return {
      ok: true,
      seq: event.seq,
      tree_size: cp.size,
      leaf_hash: hex(leaf),
      inclusion_proof: proof.map(hex),
      root: cp.root,
      checkpoint: cp,
      signature_ok: latest.signatureOk,
      key_handovers: await readHandovers(storePaths(dataDir).keys),
    };
  } finally {
    levels.close();
  }
}
