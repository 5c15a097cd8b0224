/**
 * The log as the source of the Merkle nodes below the stored levels (`merkle_block.ts`): a
 * block's leaf hashes are the leaf hashes of its 64 records, read by seq (`seq_reader.ts`: a few
 * small reads, never a whole segment). Where retention deleted the head of the log, the subtree
 * roots `retained.json` keeps for it stand in for the lost leaves, so every node that covers a
 * kept event can still be derived. `openMerkleReader` is how processes other than the writer
 * (prove, export, retention, key rotation) read the tree. Read-only: writes nothing.
 */

import { HASH_SIZE, leafHashInto } from "./merkle.ts";
import {
  BLOCK_LEAVES,
  type BlockNodes,
  buildBlock,
  frontierTailRoots,
  type SubtreeRoot,
} from "./merkle_block.ts";
import { type BlockSource, MerkleLevels } from "./merkle_levels.ts";
import { readRetainedStart } from "./retained.ts";
import { SeqReader } from "./seq_reader.ts";
import { storePaths } from "./store_open.ts";

/**
 * A source that derives blocks from the records of the log in `dataDir`, through `reader` when
 * given (a long-lived one has its segment maps at hand), else through one of its own.
 */
export function logBlockSource(dataDir: string, reader?: Promise<SeqReader>): BlockSource {
  const encoder = new TextEncoder();
  const whole = reader ? wholeBlocksOf(reader) : new Map<number, BlockNodes>();
  return async (block) => {
    const kept = whole.get(block);
    if (kept) {
      whole.delete(block);
      return whole.set(block, kept), kept;
    }
    reader ??= SeqReader.open(dataDir, { cacheBytes: 1 << 20 });
    const from = block * BLOCK_LEAVES;
    const seqs = Array.from({ length: BLOCK_LEAVES }, (_, i) => from + i);
    const records = await (await reader).read(seqs);
    const leaves = new Uint8Array(BLOCK_LEAVES * HASH_SIZE);
    const known = new Uint8Array(BLOCK_LEAVES);
    for (const r of records) {
      leafHashInto(encoder.encode(r.json), leaves, (r.seq - from) * HASH_SIZE);
      known[r.seq - from] = 1;
    }
    const roots = known[0] === 1 ? [] : await retainedRoots(dataDir, block);
    const got = buildBlock(block, leaves, known, roots);
    if (got.leaves === BLOCK_LEAVES) {
      whole.set(block, got);
      for (const b of whole.keys()) {
        if (whole.size <= WHOLE_BLOCKS) break;
        whole.delete(b);
      }
    }
    return got;
  };
}

/**
 * Whole blocks derived through a shared reader, least recently used first: a whole block never
 * changes, and the one holding the latest checkpoint's end is in every proof until the next.
 */
const shared = new WeakMap<Promise<SeqReader>, Map<number, BlockNodes>>();
const WHOLE_BLOCKS = 256;

function wholeBlocksOf(reader: Promise<SeqReader>): Map<number, BlockNodes> {
  let m = shared.get(reader);
  if (!m) shared.set(reader, m = new Map());
  return m;
}

/** The Merkle node files of `dataDir` for reading, with the log as the source of the rest. */
export function openMerkleReader(
  dataDir: string,
  opts: { reader?: Promise<SeqReader> } = {},
): Promise<MerkleLevels> {
  return MerkleLevels.openReadOnly(storePaths(dataDir).merkle, {
    source: logBlockSource(dataDir, opts.reader),
  });
}

/** The retained start's subtree roots below the stored levels, if they lie in the block. */
async function retainedRoots(dataDir: string, block: number): Promise<SubtreeRoot[]> {
  const retained = await readRetainedStart(dataDir);
  if (!retained || Math.floor(retained.from_seq / BLOCK_LEAVES) !== block) return [];
  return frontierTailRoots(retained.frontier);
}
