/**
 * Full verification of a data directory, read-only and safe while a writer appends: every
 * segment header and frame CRC, the seq sequence, every chain link, the Merkle root at every
 * signed checkpoint, every signature — against the public key on the box or one the auditor
 * kept — and that no signed event has gone missing. It names the first problem it finds.
 */

import { collectGarbage } from "./collect.ts";
import { checkDataFormat } from "./format.ts";
import { type Checkpoint, readCheckpoints } from "./checkpoint.ts";
import { type KeyLoss, type KeySpan, resolveKeyChain } from "./key_chain.ts";
import { readHandovers } from "./key_handover.ts";
import { describePlace, type LogPlace } from "./errors.ts";
import { GENESIS_CHAIN, isTailLike } from "./frame.ts";
import { hex, keyIdOf, readPublicKey, unhex } from "./keys.ts";
import { MerkleFrontier } from "./merkle.ts";
import { nativeHash } from "./native_hash.ts";
import { readRetainedStart } from "./retained.ts";
import { listSegments, SegmentBuffer, type SegmentEntry } from "./segment_file.ts";
import { unmetClaim } from "./verify_claims.ts";
import { checkSegment, type SegmentJob } from "./verify_segment.ts";
import { levelFileName } from "./merkle_block.ts";
import { checkUpperLevels, LeafFileCheck } from "./verify_nodes.ts";
import { inlineRunner, workerRunner } from "./verify_pool.ts";
import { storePaths } from "./store_open.ts";

/** Inputs of a verification beyond the data directory. */
export interface VerifyOptions {
  /**
   * Raw Ed25519 public key kept apart from the box; default: the one in the data dir. Later keys
   * are followed through the key handovers recorded in the chain.
   */
  publicKey?: Uint8Array;
  /** Checkpoints kept apart from the box: the log must still extend each of them. */
  trusted?: Checkpoint[];
  /**
   * Workers checking records beside the calling thread; default 2 on a store past a few MiB.
   * 0 checks everything on the calling thread: slower, with the least memory (a background run).
   */
  workers?: number;
  /**
   * A full garbage collection after each segment (`collect.ts`), so that memory does not follow
   * the number of segments: for a thread of its own (the daemon's verification Worker, the CLI),
   * never the daemon's main thread, which it would pause. Default false.
   */
  collect?: boolean;
  /**
   * Segments read ahead of the one being checked, each in memory of its own; default 2. 0 holds
   * one segment at a time: for a background run, where memory counts more than overlapping the
   * reads with the checking.
   */
  readAhead?: number;
  /** Called between reading the checkpoints and the log: what a writer may do then (tests). */
  afterCheckpointsRead?: () => Promise<void>;
}

/** The outcome of a verification. */
export interface VerifyReport {
  ok: boolean;
  /** The first problem, with its place. */
  problem?: { reason: string; place: LogPlace; text: string };
  events: number;
  segments: number;
  checkpoints: number;
  /** The trusted key's id (the one given, or the data dir's). */
  keyId: string;
  /** Every key that signed the log, in order, with the checkpoint sizes each may sign. */
  keys: KeySpan[];
  /** Keys replaced without the old key's signature (`vigil key rotate --recover`). */
  keyLosses: KeyLoss[];
  latestCheckpoint: Checkpoint | null;
  /** Events after the latest checkpoint: chained, not yet signed. */
  unsigned: number;
  /** Bytes of an unfinished record at the end (a write in flight, or a torn tail). */
  tailBytes: number;
  chain: string;
  root: string;
  /** Seq of the first event on disk when retention deleted older ones (0 otherwise). */
  retainedFrom: number;
}

const BLOCK_LEVEL = 10;
const BLOCK = 2 ** BLOCK_LEVEL;
const scratch = new Uint8Array(BLOCK * 32);

/** MTH of the BLOCK leaves at `leaves[i..]`, one native call per level. */
function blockRoot(leaves: Uint8Array, i: number): Uint8Array {
  scratch.set(leaves.subarray(i * 32, (i + BLOCK) * 32));
  for (let pairs = BLOCK / 2; pairs >= 1; pairs /= 2) {
    nativeHash!.nodePairs(scratch, pairs, scratch);
  }
  return scratch.subarray(0, 32);
}

/** Stores smaller than this are verified on the calling thread alone. */
const PARALLEL_BYTES = 8 * 1024 * 1024;
const WORKERS = 2;
/**
 * Runs a segment is checked in on the calling thread: a compressed one's blocks are
 * decompressed a run at a time, so about 1/16 of a segment's raw bytes is in memory at once.
 */
const INLINE_PARTS = 16;

class Problem extends Error {
  constructor(readonly reason: string, readonly place: LogPlace) {
    super(reason);
  }
}

/** Verifies the store in `dataDir`. Never throws for damage: it is in the report. */
export async function verifyStore(
  dataDir: string,
  opts: VerifyOptions = {},
): Promise<VerifyReport> {
  await checkDataFormat(dataDir);
  const paths = storePaths(dataDir);
  const publicRaw = opts.publicKey ?? await readPublicKey(paths.keys);
  const keyId = keyIdOf(publicRaw);
  const report: VerifyReport = {
    ok: true,
    events: 0,
    segments: 0,
    checkpoints: 0,
    keyId,
    keys: [],
    keyLosses: [],
    latestCheckpoint: null,
    unsigned: 0,
    tailBytes: 0,
    chain: hex(GENESIS_CHAIN),
    root: "",
    retainedFrom: 0,
  };
  let frontier = new MerkleFrontier();
  const chain = GENESIS_CHAIN.slice();
  let nextSeq = 0;
  try {
    // After retention the log starts at a kept frontier; the checkpoints signed after it check it.
    const retained = await readRetainedStart(dataDir).catch((e) => {
      throw new Problem((e as Error).message, {});
    });
    if (retained) {
      frontier = MerkleFrontier.fromJSON(retained.frontier);
      chain.set(unhex(retained.chain));
      nextSeq = report.retainedFrom = retained.from_seq;
    }
    // Checkpoints first: a writer only signs what is already durable, so every size read here
    // is within the segments read next.
    const { checkpoints } = await readCheckpoints(paths.checkpoints).catch((e) => {
      throw new Problem(`checkpoint file unreadable: ${(e as Error).message}`, {});
    });
    const all = [...checkpoints.map((c, i) => ({ c, label: `checkpoint #${i + 1}` }))];
    for (const [i, c] of (opts.trusted ?? []).entries()) {
      all.push({ c, label: `trusted checkpoint #${i + 1}` });
    }
    const handovers = await readHandovers(paths.keys).catch((e) => {
      throw new Problem(`key handovers unreadable: ${(e as Error).message}`, {});
    });
    const keys = await resolveKeyChain({ anchor: publicRaw, handovers, checkpoints: all });
    report.keys = keys.keys;
    report.keyLosses = keys.losses;
    if (keys.problem) throw new Problem(keys.problem, {});
    // Each handover's checkpoint must match the log too: the key event is the one in the log.
    for (const [i, h] of handovers.entries()) {
      all.push({ c: h.checkpoint, label: `the checkpoint of key handover #${i + 1}` });
    }
    let prevSize = 0;
    for (const [i, c] of checkpoints.entries()) {
      if (c.size < prevSize) {
        throw new Problem(`checkpoint #${i + 1} has size ${c.size} after one of ${prevSize}`, {});
      }
      prevSize = c.size;
    }
    const due = new Map<number, { c: Checkpoint; label: string }[]>();
    for (const x of all) due.set(x.c.size, [...(due.get(x.c.size) ?? []), x]);
    const maxSize = Math.max(0, ...all.map((x) => x.c.size));
    report.checkpoints = checkpoints.length;
    report.latestCheckpoint = checkpoints[checkpoints.length - 1] ?? null;
    await opts.afterCheckpointsRead?.();

    let lastSignedPlace: LogPlace = {};
    const checkAt = (size: number, head: Uint8Array, place: LogPlace): void => {
      const list = due.get(size);
      if (!list) return;
      const root = hex(frontier.root());
      for (const { c, label } of list) {
        if (c.root !== root || c.chain !== hex(head)) {
          throw new Problem(
            `${label} (size ${c.size}) does not match the log: an event after ` +
              `${describePlace(lastSignedPlace) || "the start"} and up to here was altered`,
            place,
          );
        }
      }
      lastSignedPlace = place;
    };
    checkAt(nextSeq, chain, {});
    const chainsAt = [...due.keys()].filter((s) => s > 0).map((s) => s - 1);
    const dueSizes = [...due.keys()].sort((a, b) => a - b);
    // A block of leaves goes into the tree by its root (one native call per level) when it is
    // aligned and no checkpoint falls strictly inside it.
    const blockFits = (size: number, left: number): boolean =>
      nativeHash !== null && size % BLOCK === 0 && left >= BLOCK &&
      !dueSizes.some((d) => d > size && d < size + BLOCK);

    // Segments wholly before the retained start are left over from a deletion cut short.
    const segments = (await listSegments(paths.segments)).filter((s, i, all) =>
      !(all[i + 1] && all[i + 1]!.firstSeq <= nextSeq && s.firstSeq < nextSeq)
    );
    report.segments = segments.length;
    let totalBytes = 0;
    for (const s of segments) {
      // Only steers the choice below: a segment compressed since it was listed has gone, and a
      // compressed one holds about five times its size to check.
      const size = (await Deno.stat(s.path).catch(() => ({ size: 0 }))).size;
      totalBytes += s.compressed ? size * 5 : size;
    }
    // Workers pay off beyond a few MiB; below that their start-up is most of the time.
    const workers = opts.workers ?? WORKERS;
    const parallel = workers > 0 && totalBytes > PARALLEL_BYTES;
    const runner = parallel
      ? workerRunner(workers)
      : inlineRunner({ collect: opts.collect ?? false });
    const leafFile = new LeafFileCheck(paths.merkle);
    let signedClaim = 0;
    let claimPlace: LogPlace = {};
    try {
      // Segment i+1 is read and checked on the workers while segment i's leaves go into the
      // Merkle tree here; results are still taken strictly in order. 1 + readAhead segments
      // are in hand at most (by default three: the one taken, two read ahead), each in a
      // buffer of its own that the segment that many on reuses, so memory follows the segment
      // size, not the segment count.
      const ahead = Math.max(0, opts.readAhead ?? 2);
      const buffers = Array.from(
        { length: ahead + 1 },
        () =>
          new SegmentBuffer({
            shared: parallel,
            ...(opts.collect ? { lean: () => collectGarbage() } : {}),
          }),
      );
      const job = (entry: SegmentEntry, i: number): Promise<SegmentJob> =>
        checkSegment(entry, {
          buffer: buffers[i % buffers.length]!,
          parts: parallel ? workers * 2 : INLINE_PARTS,
          runner,
          chainsAt,
        });
      // Segments read ahead, by index; one taken is dropped, so that its leaves (32 bytes an
      // event) do not stay in memory to the end.
      const jobs = new Map<number, Promise<SegmentJob>>(
        segments.slice(0, ahead).map((s, i) => [
          i,
          job(s, i),
        ]),
      );
      for (const p of jobs.values()) p.catch(() => {});
      for (const [si, entry] of segments.entries()) {
        const isLast = si === segments.length - 1;
        // Not read ahead (readAhead 0): read now, into the one buffer the last one is done with.
        const current = await (jobs.get(si) ?? job(entry, si));
        jobs.delete(si);
        if (ahead > 0 && si + ahead < segments.length) {
          const p = job(segments[si + ahead]!, si + ahead);
          p.catch(() => {});
          jobs.set(si + ahead, p);
        }
        if ("error" in current) {
          throw new Problem(current.error, { segment: entry.name, offset: 0 });
        }
        const { header, buf, runs, results } = current;
        const place0 = { segment: entry.name, offset: 0 };
        if (header.firstSeq !== nextSeq) {
          throw new Problem(
            `segment starts at seq ${header.firstSeq}, expected ${nextSeq}`,
            place0,
          );
        }
        if (hex(header.prevChain) !== hex(chain)) {
          throw new Problem(
            "segment header's chain head does not continue the previous segment",
            place0,
          );
        }
        let sealed = false;
        for (const [ri, r] of results.entries()) {
          const run = runs[ri]!;
          // A run's starting chain head came from the bytes before it (or a compressed
          // segment's block table): it must be the chain the records before it ended with.
          if (hex(run.prevChain) !== hex(chain)) {
            throw new Problem("chain head before a run of records does not continue the log", {
              segment: entry.name,
              offset: run.start,
              seq: nextSeq,
            });
          }
          if (sealed && run.end > run.start) {
            throw new Problem("record after the seal record", {
              segment: entry.name,
              offset: run.start,
              seq: nextSeq,
            });
          }
          await leafFile.feed(nextSeq, r.leaves);
          if (r.signedClaim > signedClaim) {
            signedClaim = r.signedClaim;
            claimPlace = { segment: entry.name, offset: run.start };
          }
          // Leaves before the first problem still count towards the checkpoints they complete.
          let i = 0;
          while (i < r.count) {
            if (blockFits(frontier.size, r.count - i)) {
              frontier.appendSubtree(BLOCK_LEVEL, blockRoot(r.leaves, i));
              i += BLOCK;
              nextSeq += BLOCK;
            } else {
              frontier.append(r.leaves.subarray(i * 32, i * 32 + 32));
              i++;
              nextSeq++;
            }
            if (due.has(nextSeq)) {
              const at = r.chains.find((c) => c.seq === nextSeq - 1)!;
              checkAt(nextSeq, at.chain, {
                segment: entry.name,
                offset: at.offset,
                seq: nextSeq - 1,
              });
            }
          }
          chain.set(r.endChain);
          if (r.problem) {
            throw new Problem(r.problem.reason, {
              segment: entry.name,
              offset: r.problem.offset,
              seq: r.problem.seq,
            });
          }
          if (r.stop.kind !== "end") {
            const place = { segment: entry.name, offset: r.stop.offset, seq: nextSeq };
            const lastRun = isLast && ri === results.length - 1;
            if (!lastRun || buf === null || !isTailLike(buf, r.stop)) {
              throw new Problem(r.stop.reason, place);
            }
            report.tailBytes = buf.length - r.stop.offset;
          }
          if (r.sealAt >= 0) sealed = true;
        }
        if (!isLast && !sealed) {
          throw new Problem("segment before the last one is not sealed", {
            segment: entry.name,
            offset: runs.at(-1)?.end ?? 0,
          });
        }
        if (opts.collect) collectGarbage();
      }
    } finally {
      runner.close();
      leafFile.close();
    }
    // The checkpoints were read before the log: one signed since may be claimed in it.
    const unmet = await unmetClaim({
      claim: signedClaim,
      covered: maxSize,
      file: paths.checkpoints,
      keysDir: paths.keys,
      anchor: publicRaw,
      first: checkpoints,
    });
    if (unmet !== null) throw new Problem(unmet, claimPlace);
    const node = leafFile.problem ?? await checkUpperLevels(paths.merkle, nextSeq);
    if (node !== null) {
      throw new Problem(
        `Merkle node file ${levelFileName(node.level)}: node ${node.index} is wrong (` +
          `${node.reason}); proofs from it would fail. The node files are derived: move ` +
          `merkle/ aside and restart the writer, which rebuilds them from the log`,
        node.level === 0 ? { seq: node.index } : {},
      );
    }
    if (maxSize > nextSeq) {
      throw new Problem(
        `log ends at seq ${nextSeq} but a signed checkpoint covers ${maxSize} events: ` +
          `events were removed`,
        {
          ...(segments.length ? { segment: segments[segments.length - 1]!.name } : {}),
          seq: nextSeq,
        },
      );
    }
    report.unsigned = nextSeq - (report.latestCheckpoint?.size ?? 0);
  } catch (e) {
    if (!(e instanceof Problem)) throw e;
    report.ok = false;
    const text = describePlace(e.place) ? `${describePlace(e.place)}: ${e.reason}` : e.reason;
    report.problem = { reason: e.reason, place: e.place, text };
  }
  report.events = nextSeq;
  report.chain = hex(chain);
  report.root = hex(frontier.root());
  return report;
}
