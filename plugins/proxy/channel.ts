/**
 * One byte stream as the proxy uses both of its ends: `read()` the next chunk (a fresh buffer
 * the caller may keep), `write()` all of a buffer, `close()`. A client socket (node's `net`,
 * because only it can turn an accepted connection into TLS after the SSLRequest) and an
 * upstream `Deno.Conn` look the same behind it. Reads are pulled: a client socket is paused
 * while what it sent waits unread, so a fast client cannot fill the proxy's memory.
 */

import type { Socket } from "node:net";

/** A byte stream. */
export interface Channel {
  /** The next chunk, or null at the end of the stream. */
  read(): Promise<Uint8Array | null>;
  /** Writes all of `bytes`; rejects once the stream is closed. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes at once; a pending read resolves null. Safe to call more than once. */
  close(): void;
}

/** Bytes a client socket may have delivered and not yet read before it is paused. */
const HIGH_WATER = 256 * 1024;

/** A node socket as a {@link Channel}. */
export class SocketChannel implements Channel {
  readonly socket: Socket;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #wake: (() => void) | undefined;
  #onData = (data: Uint8Array): void => {
    this.#queue.push(data);
    this.#queued += data.length;
    if (this.#queued > HIGH_WATER) this.socket.pause();
    this.#notify();
  };
  #onEnd = (): void => {
    this.#ended = true;
    this.#notify();
  };

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("close", this.#onEnd);
    socket.on("error", this.#onEnd);
  }

  async read(): Promise<Uint8Array | null> {
    for (;;) {
      const chunk = this.#queue.shift();
      if (chunk !== undefined) {
        this.#queued -= chunk.length;
        if (this.#queued <= HIGH_WATER && this.socket.isPaused()) this.socket.resume();
        return chunk;
      }
      if (this.#ended) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** Puts bytes back in front of what is still to be read. */
  unread(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#queue.unshift(bytes);
    this.#queued += bytes.length;
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.#queued;
  }

  write(bytes: Uint8Array): Promise<void> {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) {
      return Promise.reject(new Error("the client connection is closed"));
    }
    if (socket.write(bytes)) return Promise.resolve();
    // Over the socket's high-water mark: wait until it drained (or closed) before more.
    return new Promise((resolve, reject) => {
      const done = (): void => {
        socket.off("close", fail);
        resolve();
      };
      const fail = (): void => {
        socket.off("drain", done);
        reject(new Error("the client connection closed"));
      };
      socket.once("drain", done);
      socket.once("close", fail);
    });
  }

  /** Stops reading from the socket (before it is handed to TLS); returns what was unread. */
  detach(): Uint8Array[] {
    this.socket.off("data", this.#onData);
    this.socket.off("end", this.#onEnd);
    this.socket.off("close", this.#onEnd);
    this.socket.off("error", this.#onEnd);
    const rest = this.#queue;
    this.#queue = [];
    this.#queued = 0;
    return rest;
  }

  close(): void {
    this.#ended = true;
    this.socket.destroy();
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** Read size of the upstream connection. */
const READ_SIZE = 64 * 1024;

/** A `Deno.Conn` as a {@link Channel}. */
export class ConnChannel implements Channel {
  readonly #conn: Deno.Conn;
  /** Read into, then copied out at its filled length: cheaper than a fresh 64 KiB a read. */
  readonly #scratch = new Uint8Array(READ_SIZE);
  #closed = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#closed) return null;
    let n: number | null;
    try {
      n = await this.#conn.read(this.#scratch);
    } catch (error) {
      if (this.#closed) return null;
      throw error;
    }
    return n === null ? null : this.#scratch.slice(0, n);
  }

  async write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) done += await this.#conn.write(bytes.subarray(done));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}
