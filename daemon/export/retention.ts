/**
 * Local retention: the appliance keeps recent data at hand and the archive keeps the rest. A
 * sealed segment is deleted only when (1) every configured export target holds all of its events
 * (the journal has a finished run past its end), (2) it was sealed longer ago than the local
 * retention, and (3) it is not one of the last two segments — the store reads the seal record of
 * the one before the active segment for the sources' positions on restart. Only the oldest
 * segments go, as a prefix of the log, so what is left is still one contiguous, verifiable log:
 * before deleting, the Merkle frontier and chain hash at the new start are computed from the
 * segments themselves, checked against the store's Merkle node files, and written to
 * `retained.json`, from which `vigil verify` starts. Each deletion is first recorded as a
 * `system` event (`RETENTION_DELETE`) in the chain, so the log itself says what left it and why.
 * Checkpoints and the Merkle node files are never deleted. Nodes below the stored levels are
 * derived from records (`merkle_log.ts`), so the store no longer proves a deleted event itself
 * (the archive's bundles do); the subtree roots `retained.json` keeps stand in for the deleted
 * leaves of the block at the new start, so every proof that covers kept events still works.
 */

import type { NewEvent } from "../event/model.ts";
import { log } from "../log.ts";
import { StoreDamageError } from "../store/errors.ts";
import { GENESIS_CHAIN, HEADER_SIZE } from "../store/frame.ts";
import { hex, unhex } from "../store/keys.ts";
import { MerkleFrontier } from "../store/merkle.ts";
import { openMerkleReader } from "../store/merkle_log.ts";
import { readRetainedStart, writeRetainedStart } from "../store/retained.ts";
import { listSegments, loadSegment, type SegmentEntry } from "../store/segment_file.ts";
import { Store } from "../store/store.ts";
import { storePaths } from "../store/store_open.ts";
import { checkChunk } from "../store/verify_chunk.ts";
import { exportedEnd, readJournal } from "./journal.ts";

/** The source name of retention's own events. */
export const RETENTION_SOURCE = "vigil";

/** What a retention pass did. */
export interface RetentionResult {
  deleted: string[];
  /** Seqs [fromSeq, toSeq) deleted (equal when nothing was). */
  fromSeq: number;
  toSeq: number;
  /** Why nothing (more) was deleted. */
  reason: string;
}

/**
 * Deletes what may go. `targets` are the names of every configured export target: with none,
 * nothing is ever deleted. Uses `store` when the caller has it open (the daemon), else opens the
 * data directory for writing for the duration (the CLI).
 */
export async function applyRetention(
  dataDir: string,
  opts: { targets: string[]; localRetentionMs: number; now?: () => number; store?: Store },
): Promise<RetentionResult> {
  const store = opts.store ?? await Store.open(dataDir, { checkpointIntervalMs: 0 });
  try {
    return await retain(dataDir, store, opts);
  } finally {
    if (!opts.store) await store.close();
  }
}

async function retain(
  dataDir: string,
  store: Store,
  opts: { targets: string[]; localRetentionMs: number; now?: () => number },
): Promise<RetentionResult> {
  const nowMs = (opts.now ?? Date.now)();
  const paths = storePaths(dataDir);
  const retained = await readRetainedStart(dataDir);
  const start = retained?.from_seq ?? 0;
  const segments = await finishDeletion(await listSegments(paths.segments), start);
  const none = (reason: string): RetentionResult => ({
    deleted: [],
    fromSeq: start,
    toSeq: start,
    reason,
  });
  if (opts.targets.length === 0) return none("no export target is configured");
  const records = await readJournal(dataDir);
  const confirmed = Math.min(...opts.targets.map((t) => exportedEnd(records, t)));
  const chosen: SegmentEntry[] = [];
  let reason = "only the last two segments are left";
  for (let i = 0; i + 2 < segments.length; i++) {
    const next = segments[i + 1]!;
    if (next.firstSeq > confirmed) {
      reason = `not every export target holds seqs below ${next.firstSeq} yet`;
      break;
    }
    // The next segment was created when this one was sealed.
    const sealedMs = (await loadSegment(next)).header.createdUs / 1000;
    if (nowMs - sealedMs < opts.localRetentionMs) {
      reason = "the next segment is within the local retention";
      break;
    }
    chosen.push(segments[i]!);
  }
  if (chosen.length === 0) return none(reason);
  const toSeq = segments[chosen.length]!.firstSeq;
  const { frontier, chain } = await frontierAfter(chosen, retained, toSeq);
  await checkAgainstNodes(dataDir, frontier);
  const names = chosen.map((s) => s.name);
  const event: NewEvent = {
    ts: nowMs * 1000,
    source: RETENTION_SOURCE,
    kind: "system",
    command: "RETENTION_DELETE",
    statement: `deleted local segments holding seqs ${start} to ${toSeq - 1}: every export ` +
      `target holds them and they are older than the local retention`,
    context: {
      segments: names,
      from_seq: start,
      to_seq: toSeq,
      targets: opts.targets,
      chain: hex(chain),
    },
  };
  await store.append({ source: RETENTION_SOURCE, events: [event] });
  await writeRetainedStart(dataDir, { fromSeq: toSeq, chain, frontier });
  await finishDeletion(segments, toSeq);
  log("info", "retention deleted local segments", {
    segments: names,
    from_seq: start,
    to_seq: toSeq,
  });
  return { deleted: names, fromSeq: start, toSeq, reason };
}

/** Removes segments wholly before `from` (a deletion cut short); returns the rest. */
async function finishDeletion(segments: SegmentEntry[], from: number): Promise<SegmentEntry[]> {
  let i = 0;
  while (segments[i + 1] && segments[i + 1]!.firstSeq <= from) i++;
  if (i === 0) return segments;
  for (const s of segments.slice(0, i)) await Deno.remove(s.path);
  const dir = segments[0]!.path.slice(0, segments[0]!.path.lastIndexOf("/"));
  using d = await Deno.open(dir, { read: true });
  await d.sync();
  return segments.slice(i);
}

/** Re-reads the segments to delete, checking every record, and extends the frontier over them. */
async function frontierAfter(
  chosen: SegmentEntry[],
  retained: { from_seq: number; chain: string; frontier: unknown } | null,
  toSeq: number,
): Promise<{ frontier: MerkleFrontier; chain: Uint8Array }> {
  const frontier = retained ? MerkleFrontier.fromJSON(retained.frontier) : new MerkleFrontier();
  let chain = retained ? unhex(retained.chain) : GENESIS_CHAIN.slice();
  for (const entry of chosen) {
    const seg = await loadSegment(entry);
    if (seg.header.firstSeq !== frontier.size || hex(seg.header.prevChain) !== hex(chain)) {
      throw damage(`segment ${entry.name} does not continue the log before it`);
    }
    const r = checkChunk({
      buf: seg.bytes,
      start: HEADER_SIZE,
      end: seg.bytes.length,
      firstSeq: seg.header.firstSeq,
      prevChain: chain,
      chainsAt: [],
    });
    if (r.problem || r.stop.kind !== "end" || r.sealAt < 0) {
      throw damage(`segment ${entry.name} is damaged or not sealed; run vigil verify`);
    }
    for (let i = 0; i < r.count; i++) frontier.append(r.leaves.subarray(i * 32, i * 32 + 32));
    chain = r.endChain.slice();
  }
  if (frontier.size !== toSeq) {
    throw damage(`the segments end at seq ${frontier.size}, not ${toSeq}`);
  }
  return { frontier, chain };
}

/** The node files must give the same frontier: else they, or the segments, were altered. */
async function checkAgainstNodes(dataDir: string, frontier: MerkleFrontier): Promise<void> {
  const levels = await openMerkleReader(dataDir);
  try {
    const fromNodes = await levels.read(() => MerkleFrontier.fromNodes(frontier.size, levels));
    if (hex(fromNodes.root()) !== hex(frontier.root())) {
      throw damage(`the Merkle node files disagree with the log at seq ${frontier.size}`);
    }
  } finally {
    levels.close();
  }
}

function damage(why: string): StoreDamageError {
  return new StoreDamageError(`Cannot apply retention: ${why}`, {});
}
