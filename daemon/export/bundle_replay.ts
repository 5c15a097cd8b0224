/**
 * The last step of verifying a bundle: with every row's leaf hash in seq order, replays the
 * chain from the manifest's `chain_before` and the Merkle tree from its `frontier`, checks each
 * inner checkpoint's root and chain as the replay passes its size, then finishes the tree with
 * the `suffix` subtrees and compares the root with the signed checkpoint. A row changed without
 * a trace in the files (a re-signed manifest) shows here, narrowed to the seqs between two
 * checkpoints.
 */

import { formatRfc3339Micros } from "../event/time.ts";
import type { Checkpoint } from "../store/checkpoint.ts";
import { hex, unhex } from "../store/keys.ts";
import { HASH_SIZE, MerkleFrontier } from "../store/merkle.ts";
import { sha256Into } from "../store/sha256.ts";
import type { LeafTable } from "./bundle_rows.ts";
import { rootWithSuffix } from "./compact_range.ts";
import type { Manifest } from "./manifest.ts";

/** Problems found by the replay, in seq order; empty when the rows reproduce every signature. */
export function replayBundle(m: Manifest, table: LeafTable): string[] {
  const problems: string[] = [];
  const frontier = MerkleFrontier.fromJSON(m.frontier);
  const inner = [...m.inner_checkpoints].sort((x, y) => x.size - y.size);
  const link = new Uint8Array(2 * HASH_SIZE);
  link.set(unhex(m.chain_before), 0);
  let checkedUpTo = m.range.first_seq;
  for (let seq = table.from, off = 0; seq < table.to; seq++, off += HASH_SIZE) {
    const leaf = table.leaves.subarray(off, off + HASH_SIZE);
    frontier.append(leaf);
    link.set(leaf, HASH_SIZE);
    sha256Into(link, link, 0); // the chain hash becomes the first half of the next link
    while (inner[0] && inner[0].size === seq + 1) {
      const cp = inner.shift()!;
      const why = mismatch(cp, frontier.root(), link.subarray(0, HASH_SIZE));
      if (why) problems.push(`seqs ${checkedUpTo} to ${seq}: ${why}`);
      checkedUpTo = seq + 1;
    }
  }
  const chain = link.slice(0, HASH_SIZE);
  const last = m.range.last_seq;
  if (hex(chain) !== m.chain_after) {
    problems.push(
      `the chain over seqs ${m.range.first_seq} to ${last} ends at ${hex(chain)}, ` +
        `not at the manifest's chain_after ${m.chain_after}`,
    );
  }
  const cp = m.checkpoint;
  const root = rootWithSuffix(frontier, cp.size, m.suffix.nodes.map(unhex));
  const why = mismatch(cp, root, cp.size === last + 1 ? chain : undefined);
  if (why) problems.push(`seqs ${checkedUpTo} to ${last}: ${why}`);
  return problems;
}

function mismatch(cp: Checkpoint, root: Uint8Array, chain: Uint8Array | undefined): string {
  const signed = `checkpoint of size ${cp.size} signed ${formatRfc3339Micros(cp.ts)}`;
  if (hex(root) !== cp.root) {
    return `the rows do not reproduce the Merkle root of the ${signed}; a row differs from the log`;
  }
  if (chain && hex(chain) !== cp.chain) {
    return `the rows do not reproduce the chain hash of the ${signed}`;
  }
  return "";
}
