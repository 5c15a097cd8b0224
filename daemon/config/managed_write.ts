/**
 * Writes what the web UI manages in the data directory: `managed.toml` (the `[[sources]]` and
 * `[[exports]]` an admin added, and `[store] retain_local`) and the secrets its forms take (`secrets/<name>.<kind>`), so
 * that no secret is ever written into a TOML file or shown again. Every write is atomic and
 * durable — a temp file in the same directory, fsynced, renamed over the old one, then the
 * directory fsynced — so a crash leaves the old file or the new one, never half of either.
 *
 * `writeManaged` stages the new overlay in a private directory beside the data and lets the
 * caller check the WHOLE merged configuration against it before it replaces the live file: a
 * change that does not check out leaves `managed.toml` as it was. Writes are serialised.
 */

import { parse, stringify } from "smol-toml";
import { MANAGED_FILE, managedPath, STAGING_PREFIX } from "./managed.ts";

/** The overlay as plain tables, as `smol-toml` parses and writes them. */
export interface ManagedDoc {
  sources: Record<string, unknown>[];
  exports: Record<string, unknown>[];
  /** `[store] retain_local` as written (`"90d"`), or null when the overlay leaves it out. */
  retainLocal: string | null;
}

/** The directory of the UI's secret files in a data directory. */
export function secretsDir(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, "")}/secrets`;
}

/** Reads the overlay's tables; empty lists when there is no overlay yet. */
export async function readManaged(dataDir: string): Promise<ManagedDoc> {
  let text: string;
  try {
    text = await Deno.readTextFile(managedPath(dataDir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { sources: [], exports: [], retainLocal: null };
    }
    throw error;
  }
  const doc = parse(text) as Record<string, unknown>;
  const tables = (v: unknown): Record<string, unknown>[] =>
    // Plain objects: smol-toml's tables have a null prototype.
    Array.isArray(v)
      ? v.filter((t): t is Record<string, unknown> => typeof t === "object").map((t) => ({ ...t }))
      : [];
  const store = doc.store as Record<string, unknown> | undefined;
  // A value of another type is kept as written for the config check to report.
  const retain = store?.retain_local;
  return {
    sources: tables(doc.sources),
    exports: tables(doc.exports),
    retainLocal: retain === undefined ? null : typeof retain === "string" ? retain : String(retain),
  };
}

/** The TOML text of an overlay, with a header saying who writes it. */
export function managedText(doc: ManagedDoc): string {
  const body: Record<string, unknown> = {};
  if (doc.retainLocal !== null) body.store = { retain_local: doc.retainLocal };
  if (doc.sources.length > 0) body.sources = doc.sources;
  if (doc.exports.length > 0) body.exports = doc.exports;
  return "# Written by the Vigil web UI (Administration). Edits here are kept, but the UI\n" +
    "# rewrites the whole file on its next change.\n\n" + stringify(body) + "\n";
}

let queue: Promise<unknown> = Promise.resolve();

/** Runs `fn` after every earlier write has finished, so two admins cannot interleave. */
function serialised<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn, fn);
  queue = run.catch(() => {});
  return run;
}

/**
 * Replaces `managed.toml` with `doc` once `check` accepts it. `check` gets a directory that
 * holds the candidate as its `managed.toml` (merge it as if that were the data directory) and
 * the candidate's path there, to name the real file in its messages; whatever it throws is
 * rethrown, the live file untouched.
 */
export function writeManaged(
  dataDir: string,
  doc: ManagedDoc,
  opts: { check: (stagedDir: string, stagedFile: string) => Promise<void> },
): Promise<void> {
  return serialised(async () => {
    const staged = await Deno.makeTempDir({ dir: dataDir, prefix: STAGING_PREFIX });
    try {
      const file = `${staged}/${MANAGED_FILE}`;
      await writeDurable(file, managedText(doc));
      await opts.check(staged, file);
      await Deno.rename(file, managedPath(dataDir));
      await fsyncDir(dataDir);
    } finally {
      await Deno.remove(staged, { recursive: true }).catch(() => {});
    }
  });
}

/** What a secret write left behind, so that a refused change can put it back. */
export interface WrittenSecret {
  /** The secret file's absolute path, for a `*_file` key. */
  readonly path: string;
  /** Restores the file's previous content, or removes it if there was none. */
  undo(): Promise<void>;
}

/**
 * Writes a secret (mode 0600) to `secrets/<fileName>` in the data directory, creating that
 * directory (0700) if needed. `fileName` must be a plain name: it comes from a source's name.
 */
export async function writeSecret(
  dataDir: string,
  fileName: string,
  secret: string,
): Promise<WrittenSecret> {
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(fileName) || fileName.startsWith(".")) {
    throw new TypeError(`Cannot write secret ${JSON.stringify(fileName)}: not a plain file name`);
  }
  if (secret === "" || /[\r\n]/.test(secret)) {
    throw new TypeError(`Cannot write secret ${fileName}: it is empty or spans lines`);
  }
  const dir = secretsDir(dataDir);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const path = `${dir}/${fileName}`;
  const before = await Deno.readTextFile(path).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  });
  await writeDurable(path, `${secret}\n`);
  return {
    path,
    undo: async () => {
      if (before === null) await Deno.remove(path).catch(() => {});
      else await writeDurable(path, before);
    },
  };
}

/** Removes the UI's secret files of a deleted entry; missing ones are fine. */
export async function removeSecrets(dataDir: string, paths: readonly string[]): Promise<void> {
  const dir = `${secretsDir(dataDir)}/`;
  // Only files the UI wrote: a path from an edited table could point anywhere.
  for (const p of paths) {
    if (p.startsWith(dir) && !p.slice(dir.length).includes("/")) {
      await Deno.remove(p).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
    }
  }
  await fsyncDir(secretsDir(dataDir)).catch(() => {});
}

/** Atomically replaces `path` with `text`, mode 0600, durable before it returns. */
async function writeDurable(path: string, text: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = path.slice(0, slash);
  const tmp = `${dir}/.${path.slice(slash + 1)}.${crypto.randomUUID()}.tmp`;
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
    try {
      // The mode given to open is masked by the umask; a secret must not depend on it.
      await Deno.chmod(tmp, 0o600);
      const bytes = new TextEncoder().encode(text);
      for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`Cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
  await fsyncDir(dir);
}

/** Makes a directory's entries (a rename) durable. */
async function fsyncDir(dir: string): Promise<void> {
  const d = await Deno.open(dir, { read: true });
  try {
    await d.sync();
  } finally {
    d.close();
  }
}
