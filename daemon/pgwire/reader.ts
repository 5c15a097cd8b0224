/**
 * Splits the backend's byte stream into messages (type byte, int32 length, body) without
 * copying bodies. Bytes are read into chunks that are never written twice: a body handed out
 * is a view into its chunk and stays valid for as long as the caller keeps it, while the
 * reader moves on into fresh space. Only a message that straddles two reads is copied once,
 * into the chunk that completes it. Memory is bounded by the chunk size plus the largest
 * message; nothing is read from the socket until the caller asks for a message that is not yet
 * buffered, which is what gives the replication stream its backpressure.
 */

/** One backend message: its type byte and a view of its body (without type and length). */
export interface BackendMessage {
  type: number;
  payload: Uint8Array;
}

/** Where bytes come from; a `Deno.Conn` is one. */
export interface ByteSource {
  read(into: Uint8Array): Promise<number | null>;
}

/** Chunk size: large enough that a busy stream needs few reads. */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;

/** PostgreSQL caps a message at 1 GiB (MaxAllocSize); anything larger is a broken stream. */
const MAX_MESSAGE_LENGTH = 0x3fffffff;

/** Below this much free space at the end of a chunk, reading into a fresh one pays off. */
const MIN_READ_SPACE = 8 * 1024;

const HEADER = 5;

/** Reads backend messages from a {@link ByteSource}. */
export class MessageReader {
  #source: ByteSource;
  #chunkSize: number;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #eof = false;

  constructor(source: ByteSource, chunkSize = DEFAULT_CHUNK_SIZE) {
    this.#source = source;
    this.#chunkSize = chunkSize;
    this.#buf = new Uint8Array(chunkSize);
  }

  /** Bytes received but not yet returned as messages. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Whether the source has ended. */
  get ended(): boolean {
    return this.#eof;
  }

  /**
   * The next message if it is completely buffered, else undefined (then call {@link fill}).
   * Throws `SyntaxError` for a length no PostgreSQL server sends.
   */
  take(): BackendMessage | undefined {
    const available = this.#end - this.#start;
    if (available < HEADER) return undefined;
    const buf = this.#buf;
    const s = this.#start;
    const length =
      ((buf[s + 1]! << 24) | (buf[s + 2]! << 16) | (buf[s + 3]! << 8) | buf[s + 4]!) >>>
      0;
    if (length < 4 || length > MAX_MESSAGE_LENGTH) {
      const type = JSON.stringify(String.fromCharCode(buf[s]!));
      throw new SyntaxError(`Invalid length ${length} of a backend message of type ${type}`);
    }
    if (available < length + 1) return undefined;
    this.#start = s + 1 + length;
    return { type: buf[s]!, payload: buf.subarray(s + HEADER, s + 1 + length) };
  }

  /**
   * Reads more bytes: at least enough to complete the header or body that is partly buffered.
   * Resolves false when the source has ended (check {@link buffered} for a cut-off message).
   */
  async fill(): Promise<boolean> {
    if (this.#eof) return false;
    const need = this.#needed();
    if (this.#buf.length - this.#start < need || this.#buf.length - this.#end < MIN_READ_SPACE) {
      this.#moveToFreshChunk(need);
    }
    const n = await this.#source.read(this.#buf.subarray(this.#end));
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#end += n;
    return true;
  }

  /** The next message, reading as needed; null when the source ends between messages. */
  async next(): Promise<BackendMessage | null> {
    for (;;) {
      const message = this.take();
      if (message) return message;
      if (!(await this.fill())) {
        if (this.buffered > 0) {
          throw new SyntaxError(`Connection closed inside a message (${this.buffered} bytes)`);
        }
        return null;
      }
    }
  }

  /** Total bytes the partly buffered message needs (header first, then the whole message). */
  #needed(): number {
    if (this.buffered < HEADER) return HEADER;
    const b = this.#buf;
    const s = this.#start;
    return 1 + (((b[s + 1]! << 24) | (b[s + 2]! << 16) | (b[s + 3]! << 8) | b[s + 4]!) >>> 0);
  }

  /**
   * Continues in a new chunk, copying only the partial message. The old chunk is left as it
   * is, because bodies already handed out are views into it.
   */
  #moveToFreshChunk(need: number): void {
    const next = new Uint8Array(Math.max(this.#chunkSize, need));
    next.set(this.#buf.subarray(this.#start, this.#end));
    this.#end -= this.#start;
    this.#start = 0;
    this.#buf = next;
  }
}
