/**
 * One byte stream as the proxy uses both of its ends: `read()` the next chunk (a buffer the
 * caller may keep), or `lend()` it (valid only until the next read: a forwarding loop that
 * is done with each chunk before it reads the next is spared a copy a chunk), `write()` all of
 * a buffer, `close()`. A plain connection is a `Deno.Conn`
 * ({@link ConnChannel}: Deno's own sockets, the fast path); a client that asked for TLS is
 * node's `tls.TLSSocket` as the server side over that same connection ({@link SocketChannel};
 * Deno itself starts TLS on an accepted connection only as a client). Reads are pulled, so a
 * fast client waits in its kernel buffers, not in the proxy's memory.
 */

import type { Socket } from "node:net";
import { Duplex } from "node:stream";

/** A byte stream. */
export interface Channel {
  /** The next chunk, or null at the end of the stream. */
  read(): Promise<Uint8Array | null>;
  /**
   * The next chunk as {@link read} gives it, but perhaps a view of the channel's own buffer:
   * its bytes are valid only until the next `read` or `lend`.
   */
  lend(): Promise<Uint8Array | null>;
  /** Writes all of `bytes`; rejects once the stream is closed. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes at once; a pending read resolves null. Safe to call more than once. */
  close(): void;
}

/** A client's end: bytes read too early can be put back (the startup packet's reader). */
export interface ClientChannel extends Channel {
  /** Puts bytes back in front of what is still to be read. */
  unread(bytes: Uint8Array): void;
  /** Bytes received and not yet read (as far as this side knows). */
  readonly buffered: number;
}

/** Read size of a connection. */
const READ_SIZE = 64 * 1024;

/** A `Deno.Conn` as a {@link ClientChannel}. */
export class ConnChannel implements ClientChannel {
  readonly conn: Deno.Conn;
  /** Read into, then copied out at its filled length: cheaper than a fresh 64 KiB a read. */
  readonly #scratch = new Uint8Array(READ_SIZE);
  #pending: Uint8Array[] = [];
  #closed = false;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  get buffered(): number {
    return this.#pending.reduce((n, b) => n + b.length, 0);
  }

  unread(bytes: Uint8Array): void {
    if (bytes.length > 0) this.#pending.unshift(bytes);
  }

  async read(): Promise<Uint8Array | null> {
    const chunk = await this.lend();
    return chunk === null || chunk.buffer !== this.#scratch.buffer ? chunk : chunk.slice();
  }

  async lend(): Promise<Uint8Array | null> {
    const early = this.#pending.shift();
    if (early !== undefined) return early;
    if (this.#closed) return null;
    let n: number | null;
    try {
      n = await this.conn.read(this.#scratch);
    } catch (error) {
      if (this.#closed) return null;
      throw error;
    }
    return n === null ? null : this.#scratch.subarray(0, n);
  }

  write(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return Promise.resolve();
    // Most writes take all of it at once: no loop, no async function of its own for those.
    return this.conn.write(bytes).then((n) => n < bytes.length ? this.#rest(bytes, n) : undefined);
  }

  async #rest(bytes: Uint8Array, done: number): Promise<void> {
    while (done < bytes.length) done += await this.conn.write(bytes.subarray(done));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** A node stream over a `Deno.Conn`, for `tls.TLSSocket` to run the server side of TLS on. */
export function connDuplex(conn: Deno.Conn): Duplex {
  return new Duplex({
    read() {
      const buf = new Uint8Array(READ_SIZE);
      conn.read(buf).then(
        (n) => this.push(n === null ? null : buf.subarray(0, n)),
        () => this.push(null),
      );
    },
    write(chunk: Uint8Array, _encoding, done) {
      (async () => {
        let sent = 0;
        while (sent < chunk.length) sent += await conn.write(chunk.subarray(sent));
      })().then(() => done(), (error) => done(error));
    },
    final(done) {
      try {
        conn.closeWrite();
      } catch { /* already closed */ }
      done();
    },
    destroy(_error, done) {
      try {
        conn.close();
      } catch { /* already closed */ }
      done(null);
    },
  });
}

/** Bytes a socket may have delivered and not yet read before it is paused. */
const HIGH_WATER = 256 * 1024;

/** A node socket (here: a TLS one) as a {@link ClientChannel}. */
export class SocketChannel implements ClientChannel {
  readonly socket: Socket;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #wake: (() => void) | undefined;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (data: Uint8Array) => {
      this.#queue.push(data);
      this.#queued += data.length;
      if (this.#queued > HIGH_WATER) socket.pause();
      this.#notify();
    });
    const end = (): void => {
      this.#ended = true;
      this.#notify();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", end);
  }

  get buffered(): number {
    return this.#queued;
  }

  /** A socket's chunks are its own already: nothing is lent. */
  lend(): Promise<Uint8Array | null> {
    return this.read();
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

  unread(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#queue.unshift(bytes);
    this.#queued += bytes.length;
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
