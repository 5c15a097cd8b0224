/**
 * Making files durable without waiting on each: a bundle is hundreds of small Parquet files (a
 * partition a source and day), and an fsync after each, awaited before the next file was begun,
 * took a fifth of an export's time. Each file handed over here is synced in the background while
 * the next is written, up to `LIMIT` at once, and closed once synced; `drain()` waits for all and
 * throws the first failure, so nothing that follows (the manifest, the rename into place) runs
 * before every file is on disk. Durability is as before: every file is synced before the bundle
 * is renamed into place.
 */

/** Syncs at once: enough to overlap the disk with the writing, few enough open files. */
const LIMIT = 16;

/** Files being synced in the background. */
export class FileSyncs {
  #pending = new Set<Promise<void>>();
  #failure: Error | undefined;

  /** Syncs and closes `file` in the background; waits while `LIMIT` syncs are under way. */
  async add(file: Deno.FsFile, path: string): Promise<void> {
    const p = file.sync().catch((e) => {
      this.#failure ??= new Error(`Cannot sync ${path}: ${(e as Error).message}`, { cause: e });
    }).finally(() => {
      file.close();
      this.#pending.delete(p);
    });
    this.#pending.add(p);
    while (this.#pending.size >= LIMIT) await Promise.race(this.#pending);
    if (this.#failure) throw this.#failure;
  }

  /** Waits for every sync; throws the first that failed. */
  async drain(): Promise<void> {
    await Promise.all(this.#pending);
    if (this.#failure) throw this.#failure;
  }
}
