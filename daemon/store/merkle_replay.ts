/**
 * Bringing the writer's Merkle levels up to the log when the store opens: the node files are
 * only fsynced at checkpoints and hold whole blocks only, so what the last signed checkpoint
 * covers is kept and checked against the signed root, and the rest (the last incomplete block
 * included) is replayed from the records. A block whose first records retention deleted starts
 * from the subtree roots `retained.json` keeps.
 */

import type { Checkpoint } from "./checkpoint.ts";
import { StoreDamageError } from "./errors.ts";
import { CHAIN_SIZE, FRAME_EVENT, HEADER_SIZE, scanFrames } from "./frame.ts";
import { hex } from "./keys.ts";
import { rootFromNodes } from "./merkle.ts";
import { frontierTailRoots } from "./merkle_block.ts";
import { BLOCK_LEAVES, type MerkleLevels } from "./merkle_levels.ts";
import { readRetainedStart } from "./retained.ts";
import { loadSegment, SegmentBuffer, type SegmentEntry } from "./segment_file.ts";
import { sha256Into } from "./sha256.ts";

/** Reads leaf hashes of seqs [from, to) out of the segments and appends them to `levels`. */
async function replayLeaves(
  segments: SegmentEntry[],
  from: number,
  to: number,
  levels: MerkleLevels,
  buffer: SegmentBuffer,
): Promise<void> {
  for (let i = 0; i < segments.length; i++) {
    const next = segments[i + 1];
    if (next && next.firstSeq <= from) continue;
    if (segments[i]!.firstSeq >= to) break;
    const seg = await loadSegment(segments[i]!, { buffer });
    let seq = seg.header.firstSeq;
    let leaves = new Uint8Array(32 * 1024);
    let n = 0;
    scanFrames(seg.bytes, HEADER_SIZE, seg.bytes.length, (f) => {
      if (f.type !== FRAME_EVENT) return;
      if (seq < from || seq >= to) return void seq++;
      seq++;
      if ((n + 1) * 32 > leaves.length) {
        const grown = new Uint8Array(leaves.length * 2);
        grown.set(leaves);
        leaves = grown;
      }
      sha256Into(seg.bytes.subarray(f.payload + CHAIN_SIZE, f.payload + f.length), leaves, n * 32);
      n++;
    });
    if (n > 0) levels.appendLeaves(leaves.subarray(0, n * 32), n);
  }
}

/**
 * When retention deleted the first leaves of the block `levels` continues with, starts the block
 * with the subtree roots `retained.json` keeps for them.
 */
async function seedFromRetained(
  dataDir: string,
  segments: SegmentEntry[],
  levels: MerkleLevels,
): Promise<void> {
  const first = segments[0]?.firstSeq ?? 0;
  if (first <= levels.size) return;
  const retained = await readRetainedStart(dataDir);
  if (retained?.from_seq !== first || first - levels.size >= BLOCK_LEAVES) {
    throw new StoreDamageError(
      `the Merkle node files end at seq ${levels.size}, but the log starts at seq ${first}`,
    );
  }
  levels.seedTail(frontierTailRoots(retained.frontier));
}

/**
 * Brings `levels` (complete blocks only, as opened) up to the log's `end`: keeps what the last
 * signed checkpoint covers, checks it against the signed root, and replays the rest from the
 * log; node files damaged below the checkpoint are rebuilt from the log once.
 */
export async function catchUpLevels(
  dataDir: string,
  segments: SegmentEntry[],
  levels: MerkleLevels,
  lastCp: Checkpoint | null,
  end: number,
  buffer: SegmentBuffer = new SegmentBuffer(),
): Promise<void> {
  const signed = lastCp?.size ?? 0;
  const trusted = Math.min(levels.size, signed);
  levels.truncate(trusted - (trusted % BLOCK_LEAVES));
  await seedFromRetained(dataDir, segments, levels);
  await replayLeaves(segments, levels.size, signed, levels, buffer);
  if (lastCp && hex(rootFromNodes(signed, levels)) !== lastCp.root) {
    levels.truncate(0);
    await replayLeaves(segments, 0, signed, levels, buffer);
    if (hex(rootFromNodes(signed, levels)) !== lastCp.root) {
      throw new StoreDamageError(
        `Merkle root of the first ${signed} events does not match the signed checkpoint`,
      );
    }
  }
  await replayLeaves(segments, signed, end, levels, buffer);
}
