/**
 * The level files of `merkle_levels.ts` on disk: one append-only file a stored level
 * (`level-06.bin` …), opened when first needed and kept open, appended to whole, read at a
 * position, removed when a cut leaves the level empty. It remembers whether a file came or went
 * since the last `sync()`, so that the directory is made durable too, and only then.
 */

import { HASH_SIZE } from "./merkle.ts";
import { levelFileName } from "./merkle_block.ts";

/** The open level files of one Merkle directory. */
export class LevelFiles {
  readonly #dir: string;
  readonly #readOnly: boolean;
  #files: (Deno.FsFile | undefined)[] = [];
  /** A level file was created or removed since the last sync. */
  changed = false;

  constructor(dir: string, readOnly: boolean) {
    this.#dir = dir;
    this.#readOnly = readOnly;
  }

  /** Level `level`'s file if it is open already (no file system call). */
  opened(level: number): Deno.FsFile | undefined {
    return this.#files[level];
  }

  /** Level `level`'s file, opened (and with `create`, created) if need be; undefined if none. */
  file(level: number, create = false): Deno.FsFile | undefined {
    const open = this.#files[level];
    if (open) return open;
    const path = `${this.#dir}/${levelFileName(level)}`;
    try {
      // O_APPEND: positioned reads seek the shared offset, writes still land at the end.
      const file = this.#readOnly
        ? Deno.openSync(path, { read: true })
        : Deno.openSync(path, { read: true, append: true, create });
      this.#files[level] = file;
      return file;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw new Error(`Cannot open Merkle level file ${path}: ${errorText(err)}`, { cause: err });
    }
  }

  /** Appends `bytes` (whole nodes) to level `level`, creating its file if need be. */
  write(level: number, bytes: Uint8Array): void {
    if (!this.#files[level]) this.changed = true;
    const file = this.file(level, true)!;
    try {
      for (let off = 0; off < bytes.length;) off += file.writeSync(bytes.subarray(off));
    } catch (err) {
      throw new Error(
        `Cannot append ${bytes.length / HASH_SIZE} nodes to ${levelFileName(level)} in ` +
          `${this.#dir}: ${errorText(err)}`,
        { cause: err },
      );
    }
  }

  /** Reads up to `out.length` bytes at `pos` of open level `level`; returns how many it read. */
  readAt(level: number, out: Uint8Array, pos: number): number {
    const file = this.#files[level]!;
    file.seekSync(pos, Deno.SeekMode.Start);
    let got = 0;
    while (got < out.length) {
      const n = file.readSync(out.subarray(got));
      if (n === null || n === 0) break;
      got += n;
    }
    return got;
  }

  /** Closes and removes level `level`'s open file. */
  remove(level: number): void {
    this.#files[level]!.close();
    this.#files[level] = undefined;
    Deno.removeSync(`${this.#dir}/${levelFileName(level)}`);
    this.changed = true;
  }

  /** Makes every level durable, and the directory when a level file came or went. */
  async sync(): Promise<void> {
    await Promise.all(this.#files.map((f) => f?.sync()));
    if (!this.changed) return;
    using dir = await Deno.open(this.#dir, { read: true });
    await dir.sync();
    this.changed = false;
  }

  close(): void {
    for (const f of this.#files) f?.close();
    this.#files = [];
  }
}

/** An error's message, or the value as text. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
