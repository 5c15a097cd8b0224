/**
 * The `path` key of a pgAudit source: a directory and a file-name pattern (`*`, `?`, `[…]`,
 * `[!…]`), as in `/var/log/postgresql/*.csv`. Wildcards are allowed in the file name only: a
 * log directory is one directory, and listing it is one `readDir` per poll.
 */

/** A compiled `path`. */
export interface LogGlob {
  /** The directory, as written (no trailing slash; `.` for a bare file name). */
  readonly dir: string;
  /** The file-name pattern. */
  readonly pattern: string;
  /** True when `name` (a file name, no directory) matches the pattern. */
  matches(name: string): boolean;
}

/** Compiles `path`; throws `TypeError` saying what is wrong with it. */
export function compileGlob(path: string): LogGlob {
  if (path === "" || path.endsWith("/")) {
    throw new TypeError(`path ${JSON.stringify(path)} must name files, not a directory`);
  }
  const slash = path.lastIndexOf("/");
  const dir = slash === -1 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  const pattern = path.slice(slash + 1);
  if (/[*?[\]]/.test(dir)) {
    throw new TypeError(
      `path ${JSON.stringify(path)} has a wildcard in its directory; only the file name may`,
    );
  }
  const re = new RegExp(`^${patternSource(pattern, path)}$`, "s");
  return { dir, pattern, matches: (name) => re.test(name) };
}

function patternSource(pattern: string, path: string): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const close = pattern.indexOf("]", i + 2);
      if (close === -1) throw new TypeError(`path ${JSON.stringify(path)} has an unclosed "["`);
      let body = pattern.slice(i + 1, close);
      const negate = body.startsWith("!");
      if (negate) body = body.slice(1);
      out += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = close;
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return out;
}

/** The matching regular files of `glob`, sorted by name; none when the directory is missing. */
export async function listGlob(glob: LogGlob): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(glob.dir)) {
      if (e.isFile && glob.matches(e.name)) out.push(joinPath(glob.dir, e.name));
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return out.sort();
}

/** `dir/name`, without doubling the root's slash. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}
