/**
 * Finds message boundaries in a byte stream of either direction (type byte, int32 length,
 * body) as the bytes arrive, without holding whole messages: a relay hands each chunk it read
 * to {@link FrameScanner.scan}, learns where every message in it begins and ends, and keeps
 * only as much of each body as it asked for. A 1 GiB DataRow or CopyData costs the scanner
 * nothing but its header; memory is bounded by what the caller captures. It is what lets the
 * proxy forward the bytes it read unchanged while watching the conversation.
 *
 * A length below 4 or above PostgreSQL's 1 GiB cap, or one the caller's `check` refuses, is a
 * `SyntaxError`: the stream cannot be followed past it.
 */

/** One message, as far as it was captured. */
export interface Frame {
  /** The type byte. */
  type: number;
  /** The body's length as its header says (without type byte and length). */
  length: number;
  /**
   * The first bytes of the body, as many as `capture` asked for: a copy, the caller's; with
   * {@link FrameScannerOptions.views}, a view of the chunk when the message lies whole in it.
   */
  body: Uint8Array;
  /** Offset in the current chunk where the message began; -1 if in an earlier chunk. */
  start: number;
  /** Offset in the current chunk just after the message. */
  end: number;
}

/** What the caller wants of each message. */
export interface FrameScannerOptions {
  /** How many body bytes of a message of this type (and body length) to keep. */
  capture(type: number, length: number): number;
  /** Throws `SyntaxError` for a type or length the stream may not carry. */
  check?(type: number, length: number): void;
  /**
   * The body of a message that lies whole in one chunk is a view of that chunk rather than a
   * copy (valid as long as the chunk's bytes are): for a caller that reads each body before the
   * next chunk and copies what it keeps, and is spared an allocation a message. A message that
   * ends in a later chunk is still copied as it comes, since earlier chunks may be gone.
   */
  views?: boolean;
}

/** PostgreSQL caps a message at 1 GiB (MaxAllocSize). */
const MAX_LENGTH = 0x3fffffff;
const EMPTY = new Uint8Array(0);

/** Splits a stream into messages across chunk boundaries; one per direction of a connection. */
export class FrameScanner {
  #opts: FrameScannerOptions;
  #header = new Uint8Array(5);
  #headerFill = 0;
  /** Body bytes still to come; -1 while reading a header. */
  #remaining = -1;
  #type = 0;
  #length = 0;
  #body: Uint8Array = EMPTY;
  #bodyFill = 0;
  #start = -1;

  constructor(opts: FrameScannerOptions) {
    this.#opts = opts;
  }

  /** Whether the stream is between messages (nothing partial buffered). */
  get idle(): boolean {
    return this.#remaining < 0 && this.#headerFill === 0;
  }

  /** Scans one chunk; calls `onFrame` for each message that ends in it, in order. */
  scan(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    const n = chunk.length;
    let pos = 0;
    this.#start = -1;
    while (pos < n) {
      if (this.#remaining < 0) {
        if (this.#headerFill === 0) this.#start = pos;
        if (this.#headerFill === 0 && pos + 5 <= n) {
          // The usual case, a whole header in the chunk: read in place.
          const length = ((chunk[pos + 1]! << 24) | (chunk[pos + 2]! << 16) |
            (chunk[pos + 3]! << 8) | chunk[pos + 4]!) >>> 0;
          this.#beginBody(chunk[pos]!, length, chunk, pos + 5);
          pos += 5;
        } else {
          const take = Math.min(5 - this.#headerFill, n - pos);
          this.#header.set(chunk.subarray(pos, pos + take), this.#headerFill);
          this.#headerFill += take;
          pos += take;
          if (this.#headerFill < 5) break;
          const h = this.#header;
          const length = ((h[1]! << 24) | (h[2]! << 16) | (h[3]! << 8) | h[4]!) >>> 0;
          this.#beginBody(h[0]!, length, chunk, pos);
        }
      }
      const take = Math.min(this.#remaining, n - pos);
      const want = this.#body.length - this.#bodyFill;
      if (want > 0) {
        const copy = Math.min(want, take);
        this.#body.set(chunk.subarray(pos, pos + copy), this.#bodyFill);
        this.#bodyFill += copy;
      }
      pos += take;
      this.#remaining -= take;
      if (this.#remaining === 0) {
        const frame = {
          type: this.#type,
          length: this.#length,
          body: this.#body,
          start: this.#start,
          end: pos,
        };
        this.#remaining = -1;
        this.#headerFill = 0;
        this.#body = EMPTY;
        this.#bodyFill = 0;
        this.#start = -1;
        onFrame(frame);
      }
    }
  }

  /** A header is read (`length` as it says); the body begins at `pos` in `chunk`. */
  #beginBody(type: number, length: number, chunk: Uint8Array, pos: number): void {
    if (length < 4 || length > MAX_LENGTH) {
      throw new SyntaxError(
        `Invalid length ${length} of a message of type ${describeType(type)}`,
      );
    }
    this.#opts.check?.(type, length - 4);
    this.#type = type;
    this.#length = length - 4;
    this.#remaining = length - 4;
    const keep = Math.min(this.#length, Math.max(0, this.#opts.capture(type, this.#length)));
    if (keep > 0 && this.#opts.views && pos + this.#length <= chunk.length) {
      this.#body = chunk.subarray(pos, pos + keep);
      this.#bodyFill = keep; // nothing left to copy
    } else {
      this.#body = keep === 0 ? EMPTY : new Uint8Array(keep);
      this.#bodyFill = 0;
    }
  }
}

/** A type byte for messages: the character if printable, else its hex code. */
export function describeType(type: number): string {
  return type >= 0x20 && type < 0x7f
    ? JSON.stringify(String.fromCharCode(type))
    : `0x${type.toString(16).padStart(2, "0")}`;
}
