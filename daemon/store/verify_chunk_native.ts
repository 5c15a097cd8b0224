/**
 * `checkChunk` through the native library: the frames of a run are found by reading lengths
 * here, then checked (CRC, seq, chain, leaf hash) in one native call per stretch between the
 * seqs whose chain head a checkpoint needs. Same results, problems and stops as the
 * TypeScript path in verify_chunk.ts. `checkChunkNativeAsync` makes the same calls on one of
 * the runtime's threads, so that the caller's thread does other work on the run meanwhile (the
 * export's first pass spools it); the run's buffer must not change until it settles.
 */

import {
  CHAIN_SIZE,
  commitSigned,
  FRAME_COMMIT,
  FRAME_EVENT,
  FRAME_LAST_TYPE,
  FRAME_OVERHEAD,
  FRAME_SEAL,
  MAX_PAYLOAD,
  MIN_PAYLOAD,
  type ScanStop,
} from "./frame.ts";
import { crc32c } from "./crc32c.ts";
import type { NativeHash, VerifyFramesArgs } from "./native_hash.ts";
import type { ChunkResult, ChunkTask } from "./verify_chunk.ts";

const REASONS: Record<number, string> = {
  1: "CRC-32C mismatch",
  2: "chain hash mismatch",
  3: "chain head in a position record does not match",
};

/** Offsets of the whole frames of `buf[start..end)` and why the walk stopped. */
function walk(
  buf: Uint8Array,
  start: number,
  end: number,
): { frames: Int32Array; count: number; stop: ScanStop } {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let frames = new Int32Array(1024);
  let count = 0;
  let off = start;
  let stop: ScanStop = { kind: "end" };
  while (off < end) {
    if (end - off < FRAME_OVERHEAD) {
      stop = { kind: "partial", offset: off, reason: `${end - off} bytes of a frame header` };
      break;
    }
    const len = dv.getUint32(off);
    if (len < MIN_PAYLOAD || len > MAX_PAYLOAD) {
      stop = { kind: "bad", offset: off, reason: `impossible frame length ${len}` };
      break;
    }
    if (off + FRAME_OVERHEAD + len > end) {
      const got = end - off - FRAME_OVERHEAD;
      stop = { kind: "partial", offset: off, reason: `frame of ${len} bytes cut off after ${got}` };
      break;
    }
    if (count === frames.length) {
      const grown = new Int32Array(frames.length * 2);
      grown.set(frames);
      frames = grown;
    }
    frames[count++] = off;
    off += FRAME_OVERHEAD + len;
  }
  return { frames, count, stop };
}

/** Checks a run of frames with the native library. */
export function checkChunkNative(task: ChunkTask, native: NativeHash): ChunkResult {
  const steps = checkSteps(task);
  for (let step = steps.next();; step = steps.next(native.verifyFrames(...step.value))) {
    if (step.done) return step.value;
  }
}

/** `checkChunkNative` with each native call made off this thread (`verifyFramesAsync`). */
export async function checkChunkNativeAsync(
  task: ChunkTask,
  native: NativeHash,
): Promise<ChunkResult> {
  const steps = checkSteps(task);
  for (let step = steps.next();; step = steps.next(await native.verifyFramesAsync(...step.value))) {
    if (step.done) return step.value;
  }
}

/**
 * The check, yielding each native call it needs and taking back its result (the index of the
 * first bad frame), so that one body serves the blocking and the off-thread drivers.
 */
function* checkSteps(task: ChunkTask): Generator<VerifyFramesArgs, ChunkResult, number> {
  const { buf } = task;
  const w = walk(buf, task.start, task.end);
  // The first frame of an unknown type, or after a seal, ends what the native call may see.
  let limit = w.count;
  let typeProblem: { reason: string; offset: number } | null = null;
  let sealAt = -1;
  // Commit frames and what they claim; counted in `finish` only up to where the check stopped,
  // as the TypeScript path reads a frame's body only once its CRC and chain head are good.
  const claims: { offset: number; claim: number }[] = [];
  let events = 0;
  const cuts: { index: number; seq: number }[] = [];
  const want = new Set(task.chainsAt);
  for (let i = 0; i < w.count; i++) {
    const type = buf[w.frames[i]! + FRAME_OVERHEAD + CHAIN_SIZE]!;
    if (sealAt >= 0 || type > FRAME_LAST_TYPE) {
      limit = i;
      typeProblem = sealAt >= 0
        ? { reason: "record after the seal record", offset: w.frames[i]! }
        : { reason: `unknown frame type ${type}`, offset: w.frames[i]! };
      break;
    }
    if (type === FRAME_SEAL) sealAt = w.frames[i]!;
    if (type === FRAME_COMMIT) {
      const p = w.frames[i]! + FRAME_OVERHEAD;
      const len = new DataView(buf.buffer, buf.byteOffset).getUint32(w.frames[i]!);
      claims.push({ offset: w.frames[i]!, claim: commitSigned(buf, p + CHAIN_SIZE + 1, p + len) });
    }
    if (type === FRAME_EVENT) {
      const seq = task.firstSeq + events++;
      if (want.has(seq)) cuts.push({ index: i + 1, seq });
    }
  }
  const leaves = new Uint8Array(events * 32);
  const chain = task.prevChain.slice();
  const seqBox = new Float64Array([task.firstSeq]);
  const reason = new Int32Array(1);
  const chains: ChunkResult["chains"] = [];
  let problem: ChunkResult["problem"] = null;
  const finish = (stop: ScanStop, seal: number): ChunkResult => {
    const cutoff = problem?.offset ?? (stop.kind === "end" ? Infinity : stop.offset);
    let signedClaim = 0;
    for (const c of claims) if (c.offset < cutoff && c.claim > signedClaim) signedClaim = c.claim;
    const count = seqBox[0]! - task.firstSeq;
    return {
      leaves: count * 32 === leaves.length ? leaves : leaves.slice(0, count * 32),
      count,
      endChain: chain,
      chains,
      sealAt: seal,
      signedClaim,
      stop,
      problem,
    };
  };
  let from = 0;
  for (const cut of [...cuts.filter((c) => c.index <= limit), { index: limit, seq: -1 }]) {
    const n = cut.index - from;
    const leafOff = (seqBox[0]! - task.firstSeq) * 32;
    const bad = yield [
      buf,
      w.frames.subarray(from, cut.index),
      n,
      chain,
      seqBox,
      leaves.subarray(leafOff),
      reason,
    ];
    if (bad < n) {
      const offset = w.frames[from + bad]!;
      const seq = seqBox[0]!;
      const text = reason[0] === 4
        ? `record has seq ${peekSeqText(buf, offset)}, expected ${seq}`
        : REASONS[reason[0]!] ?? `native check failed (${reason[0]})`;
      // A CRC mismatch is a stop of the scan in the TypeScript path, not a record problem.
      if (reason[0] === 1) {
        return finish(
          { kind: "bad", offset, reason: text },
          sealAt >= 0 && sealAt < offset ? sealAt : -1,
        );
      }
      problem = { reason: text, offset, seq };
      break;
    }
    if (cut.seq >= 0) {
      chains.push({ seq: cut.seq, chain: chain.slice(), offset: w.frames[cut.index - 1]! });
    }
    from = cut.index;
  }
  if (!problem && typeProblem) {
    // As in the TypeScript path: a frame's CRC is checked before what its type means.
    const off = typeProblem.offset;
    const len = new DataView(buf.buffer, buf.byteOffset).getUint32(off);
    const crcOk = crc32c(buf, off + FRAME_OVERHEAD, off + FRAME_OVERHEAD + len) ===
      new DataView(buf.buffer, buf.byteOffset).getUint32(off + 4);
    if (!crcOk || !typeProblem.reason.startsWith("record after")) {
      const reason = crcOk ? typeProblem.reason : "CRC-32C mismatch";
      return finish({ kind: "bad", offset: off, reason }, sealAt);
    }
    problem = { ...typeProblem, seq: seqBox[0]! };
  }
  return finish(problem ? { kind: "end" } : w.stop, sealAt);
}

function peekSeqText(buf: Uint8Array, frameOffset: number): string {
  const start = frameOffset + FRAME_OVERHEAD + CHAIN_SIZE + 1;
  const m = /^\{"seq":(\d{1,16})/.exec(new TextDecoder().decode(buf.subarray(start, start + 30)));
  return m ? m[1]! : "-1";
}
