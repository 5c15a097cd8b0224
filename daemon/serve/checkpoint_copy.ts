/**
 * A copy of every signed checkpoint outside the data directory (`[store] checkpoint_copy`), the
 * one thing that catches the newest segments removed together with the checkpoints signed after
 * them: nothing left in the data directory then says they existed, but the copy does. It is
 * meant for a place the box can append to and not rewrite — another mount, a file made
 * append-only (`chattr +a`), a volume under WORM retention — and it is what `vigil verify
 * --checkpoint` takes.
 *
 * Promises: each checkpoint is appended as the same JSON line as in `checkpoints.jsonl` and
 * fdatasynced before the next one is signed; at start, only the copy's last line is read (its
 * last 64 KiB), so the check costs the same whatever the copy's length; a copy that cannot be
 * read or written is reported, never silently skipped.
 */

import { type Checkpoint, parseCheckpoint } from "../store/checkpoint.ts";

/** Bytes read from the end of the copy to find its last line: a checkpoint line is ~400 B. */
const TAIL_BYTES = 64 * 1024;

const encoder = new TextEncoder();

/** Appends `cp` to the copy at `path` (created 0644 when missing) and syncs it. */
export async function appendCheckpointCopy(path: string, cp: Checkpoint): Promise<void> {
  let f: Deno.FsFile | undefined;
  try {
    f = await Deno.open(path, { append: true, create: true, mode: 0o644 });
    const line = encoder.encode(JSON.stringify(cp) + "\n");
    for (let at = 0; at < line.length;) at += await f.write(line.subarray(at));
    await f.syncData();
  } catch (e) {
    throw new Error(`cannot append to the checkpoint copy ${path}: ${(e as Error).message}`);
  } finally {
    f?.close();
  }
}

/**
 * The last checkpoint of the copy at `path`; null when the file is missing or empty (a copy
 * newly configured). Throws naming the file when its last line is not a checkpoint.
 */
export async function lastCopiedCheckpoint(path: string): Promise<Checkpoint | null> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new Error(`cannot read the checkpoint copy ${path}: ${(e as Error).message}`);
  }
  try {
    const size = (await f.stat()).size;
    const from = Math.max(0, size - TAIL_BYTES);
    await f.seek(from, Deno.SeekMode.Start);
    const buf = new Uint8Array(size - from);
    let got = 0;
    while (got < buf.length) {
      const n = await f.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    const lines = new TextDecoder().decode(buf.subarray(0, got)).split("\n");
    // A line cut by the window's start is never the last one: a checkpoint is far shorter.
    const last = lines.filter((l) => l.trim() !== "").at(-1);
    if (last === undefined) return null;
    try {
      return parseCheckpoint(last);
    } catch (e) {
      throw new Error(
        `the checkpoint copy ${path} does not end with a checkpoint: ${(e as Error).message}`,
      );
    }
  } finally {
    f.close();
  }
}
