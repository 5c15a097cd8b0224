/**
 * What a proxy source reaches, read from its checked table: the address it listens on, the
 * server it connects to, and the files it reads (the client-side certificate and key, the
 * upstream CA). This is all the daemon is granted for it (`daemon/config/permissions.ts`) and
 * what the config check fences out of the data directory, read with the same parsers as the
 * source itself so the grant cannot differ from what it does.
 */

import { hostPort } from "../../daemon/config/source_paths.ts";
import type { SourceReach, SourceRead } from "../../daemon/source.ts";
import { proxyConfigFromTable } from "./config.ts";

/** The reach of a `[[sources]]` table of type "proxy"; throws as the config check does. */
export function proxyReach(table: Readonly<Record<string, unknown>>): SourceReach {
  const s = proxyConfigFromTable(table);
  const read: SourceRead[] = [];
  if (s.tlsCert !== null) read.push({ key: "tls_cert", path: s.tlsCert });
  if (s.tlsKey !== null) read.push({ key: "tls_key", path: s.tlsKey });
  if (s.server.sslrootcert !== undefined) {
    read.push({ key: "upstream", path: s.server.sslrootcert });
  }
  return {
    read,
    net: [hostPort(s.listen.hostname, s.listen.port), hostPort(s.server.host, s.server.port)],
    write: [],
  };
}
