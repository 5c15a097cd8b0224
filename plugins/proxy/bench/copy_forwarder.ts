/**
 * The runtime's ceiling for `vigil bench proxy`: a TCP forwarder written on Deno's socket API
 * that copies bytes both ways and does nothing else — no protocol, no recording, no store. The
 * bench runs it beside pgbouncer, as a process of its own listening on 127.0.0.1, so that the
 * proxy's TPS can be read against what any forwarder on this runtime reaches on the same machine
 * in the same run: the part of the gap to pgbouncer that is the runtime's own (an asynchronous
 * read and write a message each way, each a wake-up of the event loop) apart from the part that
 * is the proxy's work.
 *
 * With `syncDir` it is the ceiling of enforce mode instead: before each chunk from the server
 * goes on to the client, a record of it is written and synced to disk (`fdatasync`), as enforce
 * mode syncs a statement's event before its result goes on — in TPC-B each result is one chunk, so
 * it is one sync a statement, as there. The record goes the spool's way (`spool_writer.ts`): written
 * straight into the page cache on the forwarding thread, only the sync handed to the runtime's pool,
 * over a file of zeros so that a sync changes no file size (no journal commit). Each session writes
 * a file of its own, so sessions sync side by side as the spool's writes do; a session's file is
 * kept for the next one once it ends.
 *
 * Promises: each accepted connection is forwarded to the upstream port with `TCP_NODELAY` on
 * both sides, as the proxy's are, through a 64 KiB buffer a direction (the proxy's read size);
 * either side closing closes both. Run as a script:
 * `copy_forwarder.ts LISTEN_PORT UPSTREAM_PORT [SYNC_DIR]`.
 */

import { writeAll, writeAllSync } from "../../../daemon/store/segment_writer.ts";
import { freePort, portBound } from "./ports.ts";

/** A running copy forwarder. */
export interface CopyForwarder extends AsyncDisposable {
  readonly port: number;
  readonly pid: number;
}

/** Starts the forwarder in a process of its own; resolves once it listens. */
export async function startCopyForwarder(
  opts: { upstreamPort: number; syncDir?: string },
): Promise<CopyForwarder> {
  const port = freePort();
  const sync = opts.syncDir === undefined ? [] : [opts.syncDir];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-net=127.0.0.1",
      ...sync.map((dir) => `--allow-write=${dir}`),
      new URL(import.meta.url).pathname,
      String(port),
      String(opts.upstreamPort),
      ...sync,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let exited = false;
  child.status.then(() => (exited = true));
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // It had exited.
    }
    await child.status;
    return await stderr;
  };
  const deadline = performance.now() + 30_000;
  while (!portBound(port)) {
    if (exited || performance.now() > deadline) {
      throw new Error(`the copy forwarder did not listen on 127.0.0.1:${port}: ${await stop()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { port, pid: child.pid, [Symbol.asyncDispose]: async () => void await stop() };
}

/** Bytes of a session's sync file, written over in turn. */
const SYNC_FILE_BYTES = 1024 * 1024;
/** Bytes of one synced record: about an event of the bench's statements. */
const RECORD_BYTES = 512;

/** A session's sync file: a record written and synced before each chunk goes on. */
class SyncFile {
  readonly #file: Deno.FsFile;
  #at = 0;
  readonly #record = new Uint8Array(RECORD_BYTES);

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  static async open(path: string): Promise<SyncFile> {
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    await writeAll(file, new Uint8Array(SYNC_FILE_BYTES));
    await file.sync();
    return new SyncFile(file);
  }

  /** Writes a record of a chunk of `n` bytes and resolves once it is on disk. */
  async record(n: number): Promise<void> {
    if (this.#at + RECORD_BYTES > SYNC_FILE_BYTES) this.#at = 0;
    new DataView(this.#record.buffer).setUint32(0, n);
    this.#file.seekSync(this.#at, Deno.SeekMode.Start);
    writeAllSync(this.#file, this.#record);
    this.#at += RECORD_BYTES;
    await this.#file.syncData();
  }
}

/** Sync files of sessions that ended, for the next sessions. */
const spareFiles: SyncFile[] = [];

/**
 * Copies `from` to `to` until `from` ends or either fails, then half-closes `to`; with `sync`,
 * each chunk only once its record is on disk.
 */
async function pump(from: Deno.Conn, to: Deno.Conn, sync?: SyncFile): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      await sync?.record(n);
      await writeAll(to, buf.subarray(0, n));
    }
  } catch {
    // A reset or a close from the other side: the session is over either way.
  }
  try {
    await to.closeWrite();
  } catch {
    // Closed already.
  }
}

let sessions = 0;

async function forward(
  client: Deno.TcpConn,
  upstreamPort: number,
  syncDir: string | undefined,
): Promise<void> {
  let server: Deno.TcpConn | undefined;
  let sync: SyncFile | undefined;
  try {
    client.setNoDelay(true);
    if (syncDir !== undefined) {
      sync = spareFiles.pop() ?? await SyncFile.open(`${syncDir}/session-${++sessions}`);
    }
    server = await Deno.connect({ hostname: "127.0.0.1", port: upstreamPort });
    server.setNoDelay(true);
    await Promise.all([pump(client, server), pump(server, client, sync)]);
  } catch (error) {
    console.error(`copy forwarder: ${error}`);
  } finally {
    if (sync !== undefined) spareFiles.push(sync);
    for (const c of [client, server]) {
      try {
        c?.close();
      } catch {
        // Closed already.
      }
    }
  }
}

if (import.meta.main) {
  const [listen, upstream] = Deno.args.slice(0, 2).map(Number);
  const syncDir = Deno.args[2];
  if (!Number.isInteger(listen) || !Number.isInteger(upstream)) {
    console.error("usage: copy_forwarder.ts LISTEN_PORT UPSTREAM_PORT [SYNC_DIR]");
    Deno.exit(2);
  }
  for await (const client of Deno.listen({ hostname: "127.0.0.1", port: listen! })) {
    void forward(client, upstream!, syncDir);
  }
}
