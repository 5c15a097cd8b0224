/** pgbench against a throwaway cluster, as its superuser over 127.0.0.1. */

import type { PgCluster } from "./postgres.ts";

export const PGBENCH = "/usr/lib/postgresql/15/bin/pgbench";

/** The pgbench command with `args` for the `postgres` database of `pg`. */
export function pgbench(
  pg: PgCluster,
  args: string[],
  output: "piped" | "null" = "piped",
): Deno.Command {
  return new Deno.Command(PGBENCH, {
    args: ["-h", "127.0.0.1", "-p", String(pg.port), "-U", pg.superuser, ...args, "postgres"],
    env: { PGPASSWORD: pg.password },
    stdout: output,
    stderr: output,
  });
}
