/**
 * One zstd frame decompressed straight into memory the caller gives, with no buffer allocated
 * per call. `zlib.zstdDecompressSync` returns a new buffer for every 1 MiB block: reading a
 * segment left 64 of them as garbage, which V8 (seeing a small heap beside large buffers) frees
 * late — the export's resident memory rose ~150 MiB over a scan of 1M events, and verify's Workers
 * spent a sixth of their time collecting it. This drives the decompressor of one `node:zlib`
 * stream, made once per thread, through its handle's `writeSync` (input and output buffers with
 * offsets, as Node's own sync path does).
 *
 * Promises: the bytes written are exactly the frame's content, and it returns true, only when the
 * frame decompresses to exactly `length` bytes and its checksum holds (zstd checks it at the end
 * of the frame); it returns false — having written nothing the caller may rely on — when this
 * runtime's zlib has no such handle, so the caller falls back to `zstdDecompressSync`; it throws
 * for a damaged frame or one of another length.
 */

import zlib from "node:zlib";

/** The parts of Node's zlib stream internals used here. */
interface ZstdHandle {
  reset(): void;
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
}

interface Decoder {
  /** The stream, kept so that nothing it owns is let go while its handle is used. */
  stream: unknown;
  handle: ZstdHandle;
  state: Uint32Array;
  flush: number;
}

let decoder: Decoder | null | undefined;
const spare = new Uint8Array(64);

function open(): Decoder | null {
  try {
    const stream = zlib.createZstdDecompress() as unknown as {
      _handle?: Partial<ZstdHandle>;
      _writeState?: unknown;
      _finishFlushFlag?: unknown;
    };
    const h = stream._handle;
    const state = stream._writeState;
    if (
      typeof h?.writeSync !== "function" || typeof h.reset !== "function" ||
      !(state instanceof Uint32Array) || typeof stream._finishFlushFlag !== "number"
    ) {
      return null;
    }
    return { stream, handle: h as ZstdHandle, state, flush: stream._finishFlushFlag };
  } catch {
    return null;
  }
}

/**
 * Decompresses the zstd frame `input` into `out[at..at + length)`. Returns false when this
 * runtime cannot (use `zstdDecompressSync`); throws Error for a damaged frame or another length.
 */
export function zstdDecompressInto(
  input: Uint8Array,
  out: Uint8Array,
  at: number,
  length: number,
): boolean {
  if (decoder === undefined) decoder = open();
  if (decoder === null) return false;
  const { handle, state, flush } = decoder;
  handle.reset();
  try {
    handle.writeSync(flush, input, 0, input.length, out, at, length);
  } catch (e) {
    handle.reset();
    throw e;
  }
  // state: [output room left, input left]. Room left: the frame was shorter.
  const room = state[0]!;
  if (room !== 0) throw new Error(`the frame holds ${length - room} bytes, not ${length}`);
  // With the output exactly full, zstd may stop before the frame's end (its checksum): the rest
  // must then give no byte more.
  for (let left = state[1]!; left !== 0; left = state[1]!) {
    handle.writeSync(flush, input, input.length - left, left, spare, 0, spare.length);
    if (state[0] !== spare.length) throw new Error(`the frame holds more than ${length} bytes`);
    if (state[1] === left) throw new Error("the frame does not end");
  }
  return true;
}
