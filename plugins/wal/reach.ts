/**
 * What a WAL source reaches, read from its table: the server of its DSN (a `host:port`, or the
 * Unix socket in a socket directory), the CA file it names, and an absolute password file.
 * This is all the daemon is granted for it (`daemon/config/permissions.ts`) and what the config
 * check fences out of the data directory, so it must follow the DSN the way the source's own
 * connection reads it — which is why it uses the same parser.
 */

import { hostPort } from "../../daemon/config/source_paths.ts";
import { ConfigKeyError } from "../../daemon/config/fields.ts";
import { parseDsn } from "../../daemon/pgwire/mod.ts";
import type { SourceReach, SourceRead } from "../../daemon/source.ts";

/** The reach of a `[[sources]]` table of type "wal"; throws `ConfigKeyError` for a bad dsn. */
export function walReach(table: Readonly<Record<string, unknown>>): SourceReach {
  let dsn;
  try {
    dsn = parseDsn(String(table.dsn));
  } catch (error) {
    throw new ConfigKeyError("dsn", `Bad "dsn": ${(error as Error).message}`);
  }
  const read: SourceRead[] = [];
  if (dsn.sslrootcert !== undefined) read.push({ key: "dsn", path: dsn.sslrootcert });
  // password_file: an absolute path is read as it is; a credential name lies in
  // $CREDENTIALS_DIRECTORY, which permissions.ts grants whole (daemon/config/secret.ts).
  const secret = table.password_file;
  if (typeof secret === "string" && secret.startsWith("/")) {
    read.push({ key: "password_file", path: secret, secret: true });
  }
  if (dsn.host.startsWith("/")) {
    const socket = `${dsn.host.replace(/\/+$/, "")}/.s.PGSQL.${dsn.port}`;
    return { read: [...read, { key: "dsn", path: socket }], net: [], write: [socket] };
  }
  return { read, net: [hostPort(dsn.host, dsn.port)], write: [] };
}
