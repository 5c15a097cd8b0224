/**
 * The first pass of an export: reads seqs [a, b) of the log once, spools each event into its
 * partition, and replays the chain and the Merkle tree over them on the way, so that an export
 * checks the store against its signatures before it writes a single file: a bundle that would
 * not verify is never made. Read-only and safe while a writer appends.
 */

import { formatRfc3339Micros } from "../event/time.ts";
import { type Checkpoint } from "../store/checkpoint.ts";
import { StoreDamageError } from "../store/errors.ts";
import { GENESIS_CHAIN } from "../store/frame.ts";
import { hex } from "../store/keys.ts";
import { HASH_SIZE, leafHashInto, MerkleFrontier, type NodeReader } from "../store/merkle.ts";
import { readLog } from "../store/log_reader.ts";
import { listSegments, loadSegment } from "../store/segment_file.ts";
import { storePaths } from "../store/store_open.ts";
import { sha256Into } from "../store/sha256.ts";
import { compactRangeHashes, rootWithSuffix } from "./compact_range.ts";
import type { ExportPlan } from "./plan.ts";
import { type PartitionSpool, type SpooledPartition } from "./spool.ts";

/** What the first pass found. */
export interface Collected {
  partitions: SpooledPartition[];
  chainBefore: Uint8Array;
  chainAfter: Uint8Array;
  /** Compact range [0, firstSeq). */
  frontier: MerkleFrontier;
  /** Compact range [endSeq, checkpoint.size). */
  suffix: Uint8Array[];
}

const encoder = new TextEncoder();
let text = new Uint8Array(4096);
const leafOut = new Uint8Array(HASH_SIZE);

/** The leaf hash of canonical JSON, in a buffer reused per event (appending copies it). */
function leafOf(json: string): Uint8Array {
  // Room for the worst case (3 bytes per UTF-16 unit) makes one encodeInto always enough.
  if (text.length < json.length * 3) text = new Uint8Array(json.length * 3);
  const n = encoder.encodeInto(json, text).written;
  leafHashInto(text.subarray(0, n), leafOut, 0);
  return leafOut;
}

/**
 * Spools the plan's events and checks them against its checkpoints. Throws StoreDamageError when
 * the log does not reproduce a signed root or chain (run `vigil verify` for the place).
 */
export async function collectRange(
  dataDir: string,
  plan: ExportPlan,
  opts: { levels: NodeReader; spool: PartitionSpool; onEvent?: (seq: number) => void },
): Promise<Collected> {
  const { firstSeq: a, endSeq: b } = plan;
  const frontier = MerkleFrontier.fromNodes(a, opts.levels);
  const replay = frontier.clone();
  const link = new Uint8Array(64), linked = new Uint8Array(32);
  // The chain before seq a is read with seq a - 1, or, when retention deleted the segment that
  // held it, from the header of the segment that starts at a.
  let chain: Uint8Array | null = a === 0 ? GENESIS_CHAIN.slice() : await headerChain(dataDir, a);
  let chainBefore = chain;
  let next = a;
  const inner = plan.inner.filter((c) => c.size <= b);
  for await (const r of readLog(dataDir, { fromSeq: Math.max(0, a - 1), toSeq: b })) {
    if (r.seq < a) {
      chain = chainBefore = r.chain;
      continue;
    }
    if (r.seq !== next) throw damage(`the log skips from seq ${next} to ${r.seq}`);
    if (!chain) throw damage(`the chain hash before seq ${a} is not on disk`);
    const leaf = leafOf(r.json);
    replay.append(leaf);
    link.set(chain, 0);
    link.set(leaf, 32);
    sha256Into(link, linked, 0);
    if (!equalBytes(linked, r.chain)) {
      throw damage(`the chain hash of seq ${r.seq} does not follow from the one before`);
    }
    if (opts.spool.add(r.event, r.json, { before: chain, after: r.chain })) {
      await opts.spool.flush();
    }
    chain = r.chain;
    next++;
    while (inner[0] && inner[0].size === next) checkSigned(inner.shift()!, replay, chain);
    opts.onEvent?.(r.seq);
  }
  if (next !== b || !chain || !chainBefore) {
    throw damage(`the log ends at seq ${next}, before seq ${b}`);
  }
  const suffix = compactRangeHashes(b, plan.checkpoint.size, opts.levels);
  const root = rootWithSuffix(replay, plan.checkpoint.size, suffix);
  if (hex(root) !== plan.checkpoint.root) {
    throw damage(
      `seqs ${a} to ${b - 1} and the stored Merkle nodes do not reproduce the root of ` +
        `checkpoint ${describe(plan.checkpoint)}`,
    );
  }
  if (b === plan.checkpoint.size) checkSigned(plan.checkpoint, replay, chain);
  return {
    partitions: await opts.spool.finish(),
    chainBefore,
    chainAfter: chain,
    frontier,
    suffix,
  };
}

/** The chain head in the header of the segment that starts at `seq`, if there is one. */
async function headerChain(dataDir: string, seq: number): Promise<Uint8Array | null> {
  const entry = (await listSegments(storePaths(dataDir).segments)).find((s) => s.firstSeq === seq);
  return entry ? (await loadSegment(entry)).header.prevChain.slice() : null;
}

function checkSigned(cp: Checkpoint, replay: MerkleFrontier, chain: Uint8Array): void {
  if (hex(replay.root()) !== cp.root || hex(chain) !== cp.chain) {
    throw damage(`the log does not reproduce checkpoint ${describe(cp)}`);
  }
}

function describe(cp: Checkpoint): string {
  return `of size ${cp.size} signed at ${formatRfc3339Micros(cp.ts)}`;
}

function damage(why: string): StoreDamageError {
  return new StoreDamageError(`Cannot export: ${why}`, {});
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
