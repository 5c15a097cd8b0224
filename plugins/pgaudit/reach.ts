/**
 * What a pgAudit source reaches, read from its table: the log directory of its `path` glob and
 * the `current_logfiles` it consults (the key's file, else the one in the log directory's
 * parent, unless `false`). This is all the daemon is granted for it
 * (`daemon/config/permissions.ts`) and what the config check fences out of the data
 * directory; it is computed by the same functions the source itself uses.
 */

import { ConfigKeyError } from "../../daemon/config/fields.ts";
import type { SourceReach, SourceRead } from "../../daemon/source.ts";
import { defaultCurrentLogfiles } from "./current_logfiles.ts";
import { compileGlob } from "./glob.ts";

/** The reach of a `[[sources]]` table of type "pgaudit"; throws `ConfigKeyError` for `path`. */
export function pgauditReach(table: Readonly<Record<string, unknown>>): SourceReach {
  let dir: string;
  try {
    dir = compileGlob(String(table.path)).dir;
  } catch (error) {
    throw new ConfigKeyError("path", `Bad "path": ${(error as Error).message}`);
  }
  const read: SourceRead[] = [{ key: "path", path: dir }];
  const cl = table.current_logfiles;
  if (typeof cl === "string") read.push({ key: "current_logfiles", path: cl });
  else if (cl !== false) read.push({ key: "path", path: defaultCurrentLogfiles(dir) });
  return { read, net: [], write: [] };
}
