/**
 * The local-directory sink: a mounted archive volume, an NFS share, removable media. Each object
 * is written to a temporary file beside its final name, fsynced, renamed into place and its
 * directory fsynced, so a crash leaves either the whole file or none (and, at worst, a
 * `.vigil-tmp-*` file that a later upload of the same key replaces). A file's checksum is its
 * SHA-256, read back from the disk after the rename.
 */

import { createHash } from "node:crypto";
import type { LocalFile, PutOptions, Sink, StoredObject } from "./sink.ts";
import { SinkError } from "./sink.ts";

const CHUNK = 1 << 20;

/** A sink that writes under a local directory; keys become relative paths. */
export class DirSink implements Sink {
  readonly name: string;
  readonly location: string;
  readonly #root: string;

  constructor(name: string, root: string) {
    this.name = name;
    this.#root = root.replace(/\/+$/, "") || "/";
    this.location = `dir ${this.#root}`;
  }

  async put(key: string, file: LocalFile, opts: PutOptions = {}): Promise<StoredObject> {
    const target = this.#path(key);
    const dir = target.slice(0, target.lastIndexOf("/"));
    const tmp = `${dir}/.vigil-tmp-${crypto.randomUUID()}`;
    try {
      await this.#mkdirs(dir);
      {
        using src = await Deno.open(file.path, { read: true });
        using dst = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
        const buf = new Uint8Array(CHUNK);
        for (;;) {
          opts.signal?.throwIfAborted();
          const n = await src.read(buf);
          if (n === null) break;
          for (let at = 0; at < n;) at += await dst.write(buf.subarray(at, n));
          opts.onBytes?.(n);
        }
        await dst.sync();
      }
      await Deno.rename(tmp, target);
      await syncDir(dir);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw new SinkError(`Cannot write ${key} to ${this.location}: ${(e as Error).message}`, {
        target: this.name,
        key,
      }, { cause: e });
    }
    const stored = await this.head(key);
    if (!stored || !(await this.matches(stored, file))) {
      throw new SinkError(
        `Cannot write ${key} to ${this.location}: the file read back is not the one written`,
        { target: this.name, key },
      );
    }
    return stored;
  }

  async head(key: string): Promise<StoredObject | null> {
    const path = this.#path(key);
    const sha = createHash("sha256");
    let bytes = 0;
    try {
      using f = await Deno.open(path, { read: true });
      const buf = new Uint8Array(CHUNK);
      for (;;) {
        const n = await f.read(buf);
        if (n === null) break;
        sha.update(buf.subarray(0, n));
        bytes += n;
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw new SinkError(`Cannot read ${key} in ${this.location}: ${(e as Error).message}`, {
        target: this.name,
        key,
      }, { cause: e });
    }
    const digest = sha.digest("hex");
    return { key, bytes, etag: digest, sha256: digest };
  }

  matches(stored: StoredObject, file: LocalFile): Promise<boolean> {
    return Promise.resolve(stored.bytes === file.bytes && stored.sha256 === file.sha256);
  }

  /** Keys are `/`-separated relative paths; none may climb out of the root. */
  #path(key: string): string {
    const parts = key.split("/");
    if (parts.some((p) => p === "" || p === "." || p === "..")) {
      throw new SinkError(`Cannot use key ${JSON.stringify(key)} in ${this.location}`, {
        target: this.name,
        key,
      });
    }
    return `${this.#root}/${key}`;
  }

  /** Creates missing directories, fsyncing each parent so the new entries are durable. */
  async #mkdirs(dir: string): Promise<void> {
    try {
      await Deno.stat(dir);
      return;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const parent = dir.slice(0, dir.lastIndexOf("/")) || "/";
    if (parent !== dir) await this.#mkdirs(parent);
    await Deno.mkdir(dir).catch((e) => {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    });
    await syncDir(parent);
  }
}

async function syncDir(path: string): Promise<void> {
  using dir = await Deno.open(path, { read: true });
  await dir.sync();
}
