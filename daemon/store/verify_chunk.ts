/**
 * Verification of one run of frames inside a segment: CRC, seq, chain link and leaf hash of
 * every record. Each record stores the chain hash after it, so a run can be checked on its own
 * given the chain stored just before it — which is how `verifyStore` spreads a segment over both
 * cores. Pure: runs inline or in the verify worker.
 */

import {
  CHAIN_SIZE,
  commitSigned,
  FRAME_COMMIT,
  FRAME_EVENT,
  FRAME_OVERHEAD,
  FRAME_SEAL,
  peekSeq,
  scanFrames,
  type ScanStop,
} from "./frame.ts";
import { nativeHash } from "./native_hash.ts";
import { sha256Into } from "./sha256.ts";
import { checkChunkNative, checkChunkNativeAsync } from "./verify_chunk_native.ts";

/** What to check. */
export interface ChunkTask {
  buf: Uint8Array;
  start: number;
  end: number;
  firstSeq: number;
  prevChain: Uint8Array;
  /** Seqs whose chain head (after them) the caller needs, for checkpoints. */
  chainsAt: number[];
}

/** What a chunk holds and the first problem in it. */
export interface ChunkResult {
  leaves: Uint8Array;
  count: number;
  endChain: Uint8Array;
  chains: { seq: number; chain: Uint8Array; offset: number }[];
  /** Offset of a seal record, or -1. */
  sealAt: number;
  /** The largest checkpoint size a commit record of the run says was signed (0: none). */
  signedClaim: number;
  stop: ScanStop;
  problem: { reason: string; offset: number; seq: number } | null;
}

class ChunkProblem extends Error {
  constructor(readonly reason: string, readonly offset: number, readonly seq: number) {
    super(reason);
  }
}

/** Checks the frames of `task.buf[start..end)`, natively when the library is there. */
export function checkChunk(task: ChunkTask): ChunkResult {
  return nativeHash ? checkChunkNative(task, nativeHash) : checkChunkJs(task);
}

/**
 * `checkChunk` with the hashing off this thread when the library is there (else as
 * `checkChunk`, before it returns): `task.buf` must not change until it settles.
 */
export async function checkChunkAsync(task: ChunkTask): Promise<ChunkResult> {
  return nativeHash ? await checkChunkNativeAsync(task, nativeHash) : checkChunkJs(task);
}

/** `checkChunk` in TypeScript alone: the reference the native path must agree with. */
export function checkChunkJs(task: ChunkTask): ChunkResult {
  const { buf } = task;
  const want = new Set(task.chainsAt);
  const chains: ChunkResult["chains"] = [];
  let leaves = new Uint8Array(32 * 1024);
  const link = new Uint8Array(64);
  const chain = task.prevChain.slice();
  let seq = task.firstSeq;
  let sealAt = -1;
  let signedClaim = 0;
  let stop: ScanStop = { kind: "end" };
  let problem: ChunkResult["problem"] = null;
  try {
    stop = scanFrames(buf, task.start, task.end, (f) => {
      if (sealAt >= 0) throw new ChunkProblem("record after the seal record", f.offset, seq);
      if (f.type !== FRAME_EVENT) {
        for (let i = 0; i < 32; i++) {
          if (buf[f.payload + i] !== chain[i]) {
            throw new ChunkProblem("chain head in a position record does not match", f.offset, seq);
          }
        }
        if (f.type === FRAME_SEAL) sealAt = f.offset;
        if (f.type === FRAME_COMMIT) {
          const claim = commitSigned(buf, f.payload + CHAIN_SIZE + 1, f.payload + f.length);
          if (claim > signedClaim) signedClaim = claim;
        }
        return;
      }
      const end = f.payload + f.length;
      const got = peekSeq(buf, f.payload + CHAIN_SIZE + 1, end);
      if (got !== seq) {
        throw new ChunkProblem(`record has seq ${got}, expected ${seq}`, f.offset, seq);
      }
      const n = seq - task.firstSeq;
      if ((n + 1) * 32 > leaves.length) {
        const grown = new Uint8Array(leaves.length * 2);
        grown.set(leaves);
        leaves = grown;
      }
      link.set(chain, 0);
      sha256Into(buf.subarray(f.payload + CHAIN_SIZE, end), link, 32);
      leaves.set(link.subarray(32), n * 32);
      sha256Into(link, chain, 0);
      for (let i = 0; i < 32; i++) {
        if (buf[f.payload + i] !== chain[i]) {
          throw new ChunkProblem("chain hash mismatch", f.offset, seq);
        }
      }
      if (want.has(seq)) chains.push({ seq, chain: chain.slice(), offset: f.offset });
      seq++;
    });
  } catch (e) {
    if (!(e instanceof ChunkProblem)) throw e;
    problem = { reason: e.reason, offset: e.offset, seq: e.seq };
  }
  const count = seq - task.firstSeq;
  return {
    leaves: leaves.slice(0, count * 32),
    count,
    endChain: chain,
    chains,
    sealAt,
    signedClaim,
    stop,
    problem,
  };
}

/**
 * Splits `buf[start..end)` at frame boundaries into about `parts` runs, reading only lengths
 * and types. Returns each run with its first seq and the chain stored just before it; stops
 * splitting at the first length that makes no sense (the run holding it will say so).
 */
export function splitChunks(
  buf: Uint8Array,
  opts: { start: number; end: number; firstSeq: number; prevChain: Uint8Array; parts: number },
): { start: number; end: number; firstSeq: number; prevChain: Uint8Array }[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const target = Math.ceil((opts.end - opts.start) / opts.parts);
  const out = [];
  let runStart = opts.start;
  let runSeq = opts.firstSeq;
  let runChain = opts.prevChain;
  let off = opts.start;
  let seq = opts.firstSeq;
  while (off + FRAME_OVERHEAD <= opts.end) {
    const len = dv.getUint32(off);
    const next = off + FRAME_OVERHEAD + len;
    if (len <= CHAIN_SIZE || next > opts.end) break;
    if (buf[off + FRAME_OVERHEAD + CHAIN_SIZE] === FRAME_EVENT) seq++;
    off = next;
    if (off - runStart >= target && out.length < opts.parts - 1 && off < opts.end) {
      out.push({ start: runStart, end: off, firstSeq: runSeq, prevChain: runChain });
      // The chain field of the frame just passed is the chain head after it.
      const p = off - len;
      runChain = buf.slice(p, p + CHAIN_SIZE);
      runStart = off;
      runSeq = seq;
    }
  }
  out.push({ start: runStart, end: opts.end, firstSeq: runSeq, prevChain: runChain });
  return out;
}
