/**
 * The store's native hot loops (native/vigil_hash.c): one FFI call hashes, chains and
 * checksums a whole group of frames, where calling SHA-256 per record costs ~1 µs a call in
 * overhead alone. Loaded when the library was built (scripts/setup.sh builds it into
 * .tools/native/) and the process may load it (`--allow-ffi`); checked against the TypeScript
 * implementation on load. Without it every caller falls back to the per-record path.
 */

import { crc32c } from "./crc32c.ts";
import { nativeLibraryPath } from "./native_path.ts";
import { sha256 } from "./sha256.ts";

/** What `verifyFrames` takes, in order. */
export type VerifyFramesArgs = [
  buf: Uint8Array,
  frames: Int32Array,
  count: number,
  chain: Uint8Array,
  seq: Float64Array,
  leaves: Uint8Array,
  reason: Int32Array,
];

/** The native functions, with the buffers they need. */
export interface NativeHash {
  /** Write path: fills in chains and CRCs of `count` frames; returns how many leaves. */
  sealFrames(
    buf: Uint8Array,
    frames: Int32Array,
    count: number,
    chain: Uint8Array,
    leaves: Uint8Array,
  ): number;
  /**
   * Verify path: checks CRC, seq and chain of `count` frames; returns the index of the first
   * bad one (or `count`) with `reason[0]` 1 CRC, 2 chain, 3 position record chain, 4 seq.
   * `seq[0]` is the seq due, in and out.
   */
  verifyFrames(...args: VerifyFramesArgs): number;
  /**
   * `verifyFrames` on one of the runtime's blocking threads: this thread goes on meanwhile, and
   * must leave every buffer passed alone until the promise settles.
   */
  verifyFramesAsync(...args: VerifyFramesArgs): Promise<number>;
  /** One Merkle level: out[i] = SHA-256(0x01 ‖ in[2i] ‖ in[2i+1]). */
  nodePairs(input: Uint8Array, pairs: number, out: Uint8Array): void;
  /**
   * Read path: checks the CRC of the `count` frames at `frames` (offsets into `buf`); returns the
   * index of the first whose CRC is wrong or that does not lie within `buf`, or `count`.
   */
  checkCrcs(buf: Uint8Array, frames: Int32Array, count: number): number;
}

/** `vigil_verify_frames`'s signature. */
const VERIFY_FRAMES = {
  parameters: ["buffer", "buffer", "i32", "buffer", "buffer", "buffer", "buffer"],
  result: "i32",
} as const;

function load(): NativeHash | null {
  let lib;
  try {
    lib = Deno.dlopen(nativeLibraryPath(), {
      vigil_crc32c: { parameters: ["buffer", "i32"], result: "u32" },
      vigil_seal_frames: {
        parameters: ["buffer", "buffer", "i32", "buffer", "buffer"],
        result: "i32",
      },
      vigil_verify_frames: VERIFY_FRAMES,
      // The same function, called on a blocking thread of the runtime's.
      vigil_verify_frames_nb: { ...VERIFY_FRAMES, name: "vigil_verify_frames", nonblocking: true },
      vigil_node_pairs: { parameters: ["buffer", "i32", "buffer"], result: "void" },
      vigil_check_crcs: { parameters: ["buffer", "i32", "buffer", "i32"], result: "i32" },
    });
  } catch {
    return null; // not built, or no permission to load it: the per-record path serves
  }
  const s = lib.symbols;
  const native: NativeHash = {
    sealFrames: (buf, frames, count, chain, leaves) =>
      s.vigil_seal_frames(buf, frames, count, chain, leaves),
    verifyFrames: (...args) => s.vigil_verify_frames(...args),
    verifyFramesAsync: (...args) => s.vigil_verify_frames_nb(...args),
    nodePairs: (input, pairs, out) => s.vigil_node_pairs(input, pairs, out),
    checkCrcs: (buf, frames, count) => s.vigil_check_crcs(buf, buf.length, frames, count),
  };
  return selfTest(native, s.vigil_crc32c) ? native : null;
}

/** One event frame and one position frame, sealed natively and checked by the TS code. */
function selfTest(
  n: NativeHash,
  crc: (b: Uint8Array, len: number) => number,
): boolean {
  const body = new TextEncoder().encode('{"seq":7,"ts":1,"kind":"app"}');
  const len = 33 + body.length;
  const buf = new Uint8Array(2 * (8 + len));
  for (const off of [0, 8 + len]) {
    new DataView(buf.buffer).setUint32(off, len);
    buf[off + 8 + 32] = off === 0 ? 0 : 1;
    buf.set(body, off + 8 + 33);
  }
  const frames = new Int32Array([0, 8 + len]);
  const chain = new Uint8Array(32).fill(9);
  const start = chain.slice();
  const leaves = new Uint8Array(64);
  if (n.sealFrames(buf, frames, 2, chain, leaves) !== 1) return false;
  const leaf = sha256(buf.subarray(8 + 32, 8 + len));
  const want = sha256(new Uint8Array([...start, ...leaf]));
  const same = (a: Uint8Array, b: Uint8Array): boolean => a.every((x, i) => x === b[i]);
  if (!same(leaves.subarray(0, 32), leaf) || !same(chain, want)) return false;
  if (new DataView(buf.buffer).getUint32(4) !== crc32c(buf, 8, 8 + len)) return false;
  if (crc(buf.subarray(8), len) !== crc32c(buf, 8, 8 + len)) return false;
  // The CRCs just sealed hold; a bit flipped in the first frame's body is found there.
  if (n.checkCrcs(buf, frames, 2) !== 2) return false;
  const flip = 8 + len - 1;
  buf[flip] = buf[flip]! ^ 1;
  if (n.checkCrcs(buf, frames, 2) !== 0) return false;
  buf[flip] = buf[flip]! ^ 1;
  const check = start.slice();
  const seq = new Float64Array([7]);
  const reason = new Int32Array(1);
  return n.verifyFrames(buf, frames, 2, check, seq, leaves, reason) === 2 && seq[0] === 8 &&
    same(check, want);
}

/** The native functions, or null when the library is not available here. */
export const nativeHash: NativeHash | null = load();
