/**
 * The first pass of an export: reads seqs [a, b) of the log once, a run of a few MiB at a time
 * (`log_scan.ts`), checks every frame's CRC, seq and chain link and replays the Merkle tree over
 * the events' leaves, checking each signed checkpoint on the way, and spools each event's
 * canonical bytes into its partition (`spool.ts`). So an export checks the store against its
 * signatures before it writes a single file — a bundle that would not verify is never made —
 * in memory bounded by one run, whatever the range. Read-only and safe while a writer
 * appends.
 *
 * The checks run in the store's own verifier (`checkChunkAsync`: native calls hash a whole
 * slice's frames on another thread, when the hashing library is loaded, while this one spools
 * it) and the Merkle replay takes 1024 leaves at a time as one subtree where no checkpoint falls
 * inside, as `vigil verify` does: per-event calls to SHA-256 cost ~1 µs each in overhead alone.
 */

import { formatRfc3339Micros } from "../event/time.ts";
import { type Checkpoint } from "../store/checkpoint.ts";
import { StoreDamageError } from "../store/errors.ts";
import { BODY_AT, GENESIS_CHAIN } from "../store/frame.ts";
import { hex } from "../store/keys.ts";
import { HASH_SIZE, MerkleFrontier, type NodeReader } from "../store/merkle.ts";
import { nativeHash } from "../store/native_hash.ts";
import { checkChunkAsync } from "../store/verify_chunk.ts";
import { compactRangeHashes, rootWithSuffix } from "./compact_range.ts";
import { EventPeek } from "./event_peek.ts";
import { CHAIN_AT, releaseBuffer, scanLog, type SegmentSlice } from "./log_scan.ts";
import type { ExportPlan } from "./plan.ts";
import type { PartitionSpool, SpooledPartition, SpoolEvent } from "./spool.ts";

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

const EMPTY = new Uint8Array(0);
const BLOCK_LEVEL = 10;
const BLOCK = 2 ** BLOCK_LEVEL;

/**
 * Spools the plan's events and checks them against its checkpoints. Throws StoreDamageError when
 * the log does not reproduce a signed root or chain (run `vigil verify` for the place).
 */
export async function collectRange(
  dataDir: string,
  plan: ExportPlan,
  opts: { levels: NodeReader & { read<T>(fn: () => T): Promise<T> }; spool: PartitionSpool },
): Promise<Collected> {
  const { firstSeq: a, endSeq: b } = plan;
  const levels = opts.levels;
  const frontier = await levels.read(() => MerkleFrontier.fromNodes(a, levels));
  const replay = frontier.clone();
  const inner = plan.inner.filter((c) => c.size <= b);
  let chainBefore: Uint8Array | null = null;
  let chain: Uint8Array | null = null;
  const peek = new EventPeek();
  const ev: SpoolEvent = {
    seq: 0,
    ts: 0,
    source: "",
    buf: EMPTY,
    start: 0,
    end: 0,
    before: EMPTY,
    beforeAt: -1,
    afterAt: 0,
  };
  for await (const s of scanLog(dataDir, { fromSeq: a, toSeq: b })) {
    // The chain before seq a: the frame before it, or, when seq a starts a segment, the
    // segment's header (what retention leaves when it deleted the segment before).
    if (chain === null) chain = chainBefore = a === 0 ? GENESIS_CHAIN.slice() : s.prevChain;
    const stops = inner.filter((c) => c.size > s.firstSeq && c.size <= s.firstSeq + s.count);
    // The slice is hashed on another thread while this one spools it (each ~0.4 s of a 1M-event
    // range); neither changes its bytes. A damaged slice is reported as damage, whatever its
    // bytes made the spooling throw, and its spooled events never reach a file.
    const checking = checkChunkAsync({
      buf: s.buf,
      start: s.start,
      end: s.end,
      firstSeq: s.firstSeq,
      prevChain: chain,
      chainsAt: stops.map((c) => c.size - 1),
    });
    let spooling: { failed: unknown } | null = null;
    try {
      spoolSlice(s, opts.spool, { peek, ev, chain });
    } catch (e) {
      spooling = { failed: e };
    }
    const r = await checking;
    if (r.problem || r.stop.kind !== "end" || r.count !== s.count) {
      const stop = r.stop.kind === "end" ? undefined : r.stop;
      const why = r.problem?.reason ?? stop?.reason ?? "seqs skip";
      const offset = s.base + (r.problem?.offset ?? stop?.offset ?? s.start);
      throw damage(`${s.segment} offset ${offset}: ${why}`);
    }
    if (spooling) throw spooling.failed;
    appendLeaves(replay, r.leaves, { count: s.count, stops, chains: r.chains });
    releaseBuffer(r.leaves);
    chain = r.endChain.slice();
  }
  if (!chain || !chainBefore) throw damage(`the log ends before seq ${b}`);
  const suffix = await levels.read(() => compactRangeHashes(b, plan.checkpoint.size, levels));
  const root = rootWithSuffix(replay, plan.checkpoint.size, suffix);
  if (hex(root) !== plan.checkpoint.root) {
    throw damage(
      `seqs ${a} to ${b - 1} and the stored Merkle nodes do not reproduce the root of ` +
        `checkpoint ${describe(plan.checkpoint)}`,
    );
  }
  if (b === plan.checkpoint.size) checkSigned(plan.checkpoint, replay, chain);
  return {
    partitions: opts.spool.finish(),
    chainBefore,
    chainAfter: chain,
    frontier,
    suffix,
  };
}

/** Hands each event of a checked slice to the spool, with its partition's keys and chains. */
function spoolSlice(
  s: SegmentSlice,
  spool: PartitionSpool,
  ctx: { peek: EventPeek; ev: SpoolEvent; chain: Uint8Array },
): void {
  ctx.ev.buf = s.buf;
  ctx.ev.before = ctx.chain;
  // The pool is written out (synchronously) whenever it is used up.
  for (
    let i = spoolUntilFull(s, 0, spool, ctx);
    i < s.count;
    i = spoolUntilFull(s, i, spool, ctx)
  ) {
    spool.flush();
  }
  spool.settle();
  ctx.ev.buf = ctx.ev.before = EMPTY; // the segment can go
}

/** Spools the slice's events from the `from`th until the pool is full; returns where it stopped. */
function spoolUntilFull(
  s: SegmentSlice,
  from: number,
  spool: PartitionSpool,
  ctx: { peek: EventPeek; ev: SpoolEvent },
): number {
  const { buf, frames } = s;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const { peek, ev } = ctx;
  for (let i = from; i < s.count; i++) {
    if (spool.full) return i;
    const frame = frames[i]!;
    const end = frame + CHAIN_AT + dv.getUint32(frame);
    const start = frame + BODY_AT;
    const p = peek.read(buf, start, end);
    ev.seq = s.firstSeq + i;
    ev.ts = p.ts;
    ev.source = p.source;
    ev.start = start;
    ev.end = end;
    // The chain before an event is the one after the event before it (or before the slice).
    ev.beforeAt = i === 0 ? -1 : frames[i - 1]! + CHAIN_AT;
    ev.afterAt = frame + CHAIN_AT;
    spool.add(ev);
  }
  return s.count;
}

/**
 * Appends `count` leaves to the replay, checking each checkpoint in `stops` (in size order) as
 * its size is reached, against the chain the check recorded there. Aligned runs of 1024
 * leaves with no checkpoint inside go in as one subtree, hashed natively a level at a time.
 */
function appendLeaves(
  replay: MerkleFrontier,
  leaves: Uint8Array,
  at: { count: number; stops: Checkpoint[]; chains: { seq: number; chain: Uint8Array }[] },
): void {
  const stops = [...at.stops];
  for (let i = 0; i < at.count;) {
    const size = replay.size;
    const limit = stops[0]?.size ?? Infinity;
    if (nativeHash && size % BLOCK === 0 && i + BLOCK <= at.count && size + BLOCK <= limit) {
      replay.appendSubtree(BLOCK_LEVEL, blockRoot(leaves, i));
      i += BLOCK;
    } else {
      replay.append(leaves.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
      i++;
    }
    while (stops[0] && stops[0].size === replay.size) {
      const cp = stops.shift()!;
      // Two checkpoints may sign one size (a key rotation): both check the same chain.
      const chain = at.chains.find((c) => c.seq === cp.size - 1);
      if (!chain) throw damage(`no chain hash read for checkpoint ${describe(cp)}`);
      checkSigned(cp, replay, chain.chain);
    }
  }
}

const scratch = new Uint8Array(BLOCK * HASH_SIZE);

/** The root of the BLOCK leaves from `leaves[i]`, one native call per level. */
function blockRoot(leaves: Uint8Array, i: number): Uint8Array {
  scratch.set(leaves.subarray(i * HASH_SIZE, (i + BLOCK) * HASH_SIZE));
  for (let pairs = BLOCK / 2; pairs >= 1; pairs /= 2) {
    nativeHash!.nodePairs(scratch, pairs, scratch);
  }
  return scratch.subarray(0, HASH_SIZE);
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
