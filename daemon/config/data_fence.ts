/**
 * The fence around the data directory: what sources and their probes may never read. The data
 * directory holds the signing key, the secrets the web UI stores (`secrets/`, a WAL source's
 * password among them), `managed.toml`, `access.sqlite` and the log itself; a source pointed
 * into it would turn them into events anyone with the Events page reads. So no source may read
 * a path inside it — save a source's own secret file in `secrets/` (a WAL `password_file` the
 * UI wrote), which is read as a password, never stored.
 *
 * A path is judged after `..` and symbolic links are resolved (as far as the path exists), so a
 * link to the data directory, or `/var/log/../lib/vigil`, is inside it. Besides the data
 * directories the caller names (the configured `data_dir`), any directory that holds a Vigil
 * store — a `FORMAT` file saying `vigil-data N` (`daemon/store/format.ts`) or a signing key —
 * counts: that is what fences a probe or a source at its start, which know no configuration
 * (`managed.ts` fences the real data directory of a staged `managed.toml` by its path).
 */

import { isAbsolute, join, normalize, resolve } from "node:path";
import { ConfigKeyError } from "./fields.ts";

/** The UI's secret files, in a data directory (`managed_write.ts`). */
const SECRETS_DIR = "secrets";

/** What a fence check needs to know of the path it judges. */
export interface FenceCheck {
  /** The key of the table that names the path, for the message. */
  key: string;
  /** The table, for the message: `pgAudit source "billing-log"`. */
  where: string;
  /** Data directories known from the configuration; marked ones are found anyway. */
  dataDirs?: readonly string[];
  /** A secret the source reads as a credential: allowed in the data directory's `secrets/`. */
  secret?: boolean;
}

/**
 * Throws `ConfigKeyError` naming the key when `path` lies inside a data directory (see the module
 * documentation); returns quietly otherwise.
 *
 * @example
 * checkOutsideDataDir("/var/lib/vigil/secrets/*.password", {
 *   key: "path", where: 'pgAudit source "x"', dataDirs: ["/var/lib/vigil"] }); // throws
 */
export function checkOutsideDataDir(path: string, opts: FenceCheck): void {
  const real = realPath(path);
  const holder = holdingDataDir(real, opts.dataDirs ?? []);
  if (holder === null) return;
  if (opts.secret === true && within(real, join(holder, SECRETS_DIR)) && real !== holder) {
    const rest = real.slice(join(holder, SECRETS_DIR).length + 1);
    if (rest !== "" && !rest.includes("/")) return;
  }
  const shown = real === normalize(absolute(path)) ? real : `${path} (that is ${real})`;
  throw new ConfigKeyError(
    opts.key,
    `Bad "${opts.key}" in ${opts.where}: ${shown} lies inside the data directory ${holder}; ` +
      "sources may not read Vigil's own files (signing key, secrets, managed.toml, the log)" +
      (opts.secret === true ? `, save a password file in ${join(holder, SECRETS_DIR)}/` : ""),
  );
}

/** The data directory `real` lies in (or is), or null. */
function holdingDataDir(real: string, known: readonly string[]): string | null {
  for (const dir of known) {
    if (dir === "") continue;
    const d = realPath(dir);
    if (within(real, d)) return d;
  }
  for (let dir = real;; dir = parent(dir)) {
    if (isMarked(dir)) return dir;
    if (dir === "/") return null;
  }
}

/** True when `dir` holds a Vigil store: a `FORMAT` of `vigil-data N`, or a signing key. */
function isMarked(dir: string): boolean {
  try {
    const head = Deno.readTextFileSync(join(dir, "FORMAT")).slice(0, 32);
    if (/^vigil-data \d/.test(head)) return true;
  } catch { /* absent, or not ours to read: then nothing of it is readable either */ }
  try {
    return Deno.lstatSync(join(dir, "keys", "signing.key")).isFile;
  } catch {
    return false;
  }
}

/** True when `path` is `dir` or below it (both absolute and normalised). */
export function within(path: string, dir: string): boolean {
  const d = dir.endsWith("/") ? dir : `${dir}/`;
  return path === dir || path.startsWith(d);
}

/**
 * `path` absolute and normalised, with the symbolic links of its longest existing prefix
 * resolved: a file not there yet is judged by where its directory really is.
 */
export function realPath(path: string): string {
  const full = normalize(absolute(path)).replace(/(.)\/+$/, "$1");
  const rest: string[] = [];
  for (let at = full;; at = parent(at)) {
    try {
      const real = Deno.realPathSync(at);
      return rest.length === 0 ? real : join(real, ...rest.reverse());
    } catch {
      // Missing, or not ours to look at: judge by the path as written from here on.
    }
    if (at === "/") return full;
    rest.push(at.slice(at.lastIndexOf("/") + 1));
  }
}

function absolute(path: string): string {
  if (isAbsolute(path)) return path;
  try {
    return resolve(path);
  } catch {
    return `/${path}`; // No right to know the working directory: judge the path as written.
  }
}

function parent(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}
