/**
 * PostgreSQL's `current_logfiles` (in the data directory): which file the logging collector
 * writes now, per format (`csvlog log/postgresql-….csv`). The tailer uses it to know that a
 * file has been rotated away — only then may a partial last record be given up on — without
 * guessing from names or times. Paths in it are relative to the data directory unless absolute.
 */

import { normalize } from "node:path";
import type { LogFormat } from "./decoder.ts";
import { joinPath } from "./glob.ts";

/** The current file of `format` by `current_logfiles` at `path`; undefined when it has none. */
export async function currentLogFile(
  path: string,
  format: LogFormat,
): Promise<string | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`Cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  for (const line of text.split("\n")) {
    const space = line.indexOf(" ");
    if (space === -1 || line.slice(0, space) !== format) continue;
    const file = line.slice(space + 1);
    if (file.startsWith("/")) return file;
    const slash = path.lastIndexOf("/");
    return slash === -1 ? file : joinPath(path.slice(0, slash) || "/", file);
  }
  return undefined;
}

/**
 * Where `current_logfiles` is for a log directory inside a data directory (`<data>/log`): in
 * its parent, as the path says once `..` and `.` are resolved (`/srv/pg/log/..` is `/srv/pg`,
 * whose parent is `/srv`, not `/srv/pg/log`).
 */
export function defaultCurrentLogfiles(logDir: string): string {
  const trimmed = normalize(logDir).replace(/\/+$/, "");
  const slash = trimmed.lastIndexOf("/");
  const parent = slash === -1
    ? (trimmed === "." || trimmed === "" ? ".." : ".")
    : slash === 0
    ? "/"
    : trimmed.slice(0, slash);
  return joinPath(parent, "current_logfiles");
}
