/**
 * The unread bytes of a log file as one contiguous, growable array, so that a decoder can scan a
 * record that arrived in many chunks without re-joining it per chunk: a multi-megabyte record is
 * copied in once and scanned once. `base` is the file offset of the first byte held, which is
 * what turns positions in the buffer into the byte offsets a log position is made of.
 */

const INITIAL_CAPACITY = 64 * 1024;

/** Bytes appended at the end, discarded from the front; `base` tracks their file offset. */
export class ByteBuffer {
  #buf = new Uint8Array(INITIAL_CAPACITY);
  #length = 0;
  #base: number;

  constructor(base: number) {
    this.#base = base;
  }

  /** The held bytes are `bytes[0 .. length)`; the array is replaced when the buffer grows. */
  get bytes(): Uint8Array {
    return this.#buf;
  }

  get length(): number {
    return this.#length;
  }

  /** File offset of `bytes[0]`. */
  get base(): number {
    return this.#base;
  }

  /** Copies `chunk` in: the producer may reuse its chunk once `transform` returns. */
  append(chunk: Uint8Array): void {
    const need = this.#length + chunk.length;
    if (need > this.#buf.length) {
      let capacity = this.#buf.length * 2;
      while (capacity < need) capacity *= 2;
      const grown = new Uint8Array(capacity);
      grown.set(this.#buf.subarray(0, this.#length));
      this.#buf = grown;
    }
    this.#buf.set(chunk, this.#length);
    this.#length = need;
  }

  /** Drops the first `n` bytes (those of records already handed on). */
  discard(n: number): void {
    if (n === 0) return;
    this.#buf.copyWithin(0, n, this.#length);
    this.#length -= n;
    this.#base += n;
    // A huge record grew the array; once it is gone, give the memory back.
    if (this.#buf.length > 4 * INITIAL_CAPACITY && this.#length < this.#buf.length / 8) {
      this.#buf = this.#buf.slice(0, Math.max(INITIAL_CAPACITY, this.#length * 2));
    }
  }
}
