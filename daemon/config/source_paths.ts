/**
 * The fence between sources and Vigil's own files: a `[[sources]]` table whose plugin says it
 * reads inside a data directory (`SourcePlugin.reach`) is refused, naming the key
 * (`data_fence.ts`). The same `reach` is what `permissions.ts` grants, so the config check,
 * the permissions and the fence can never disagree about what a source touches. The core
 * knows no source type: each plugin says what its table reaches.
 */

import type { SourcePlugin, SourceReach } from "../source.ts";
import { checkOutsideDataDir } from "./data_fence.ts";

type Table = Readonly<Record<string, unknown>>;

/**
 * Refuses a `[[sources]]` table that would read inside a data directory: `dataDirs` (the
 * configured one) or any marked as a Vigil store. Throws `ConfigKeyError` naming the key. A
 * table too malformed to say what it reads is left to its plugin's own check.
 */
export function fenceSource(plugin: SourcePlugin, table: Table, dataDirs: readonly string[]): void {
  const name = typeof table.name === "string" ? ` "${table.name}"` : "";
  const where = `source${name}`;
  let reach: SourceReach;
  try {
    reach = plugin.reach(table);
  } catch {
    return; // A malformed dsn or path: the plugin's check names it.
  }
  for (const r of reach.read) {
    checkOutsideDataDir(r.path, {
      key: r.key,
      where,
      dataDirs,
      ...(r.secret ? { secret: true } : {}),
    });
  }
  for (const socket of reach.write) {
    const key = reach.read.find((r) => r.path === socket)?.key ?? "type";
    checkOutsideDataDir(socket, { key, where, dataDirs });
  }
}

/** `host:port`, with IPv6 addresses in brackets as Deno's `--allow-net` wants them. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}
