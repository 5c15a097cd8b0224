/**
 * What each source type reaches, read from its `[[sources]]` table by the documented keys: the
 * paths it reads (and the key that names each), its network address or socket. One list, used
 * twice: `permissions.ts` grants exactly these to the daemon, and `fenceSource` refuses a table
 * that would read inside the data directory (`data_fence.ts`) — so the config check, the
 * permissions and the fence can never disagree about what a source touches.
 *
 * The core knows no plugin (DESIGN.md), so the rules follow the keys of
 * `plugins/<type>/_source_config.ts`; a type without a rule is an error where it matters (the
 * permissions), never a guess.
 */

import { normalize } from "node:path";
import { checkOutsideDataDir } from "./data_fence.ts";

type Table = Readonly<Record<string, unknown>>;

/** One path a source reads. */
export interface SourceRead {
  /** The table key that names it (or that it is derived from). */
  key: string;
  path: string;
  /** A credential the source reads but never stores (a password file). */
  secret?: boolean;
}

/** What a source reaches. */
export interface SourceReach {
  read: SourceRead[];
  /** `host:port` it connects to. */
  net: string[];
  /** Unix sockets it writes to (connecting needs write on the socket file). */
  write: string[];
}

/** Each type's rule; see the module documentation. */
const RULES: Readonly<Record<string, (t: Table) => SourceReach>> = {
  wal: (t) => {
    const reach = dsnReach(String(t.dsn));
    // password_file: an absolute path is read as it is; a credential name lies in
    // $CREDENTIALS_DIRECTORY, which permissions.ts grants whole (daemon/config/secret.ts).
    const secret = t.password_file;
    if (typeof secret === "string" && secret.startsWith("/")) {
      reach.read.push({ key: "password_file", path: secret, secret: true });
    }
    return reach;
  },
  pgaudit: (t) => {
    const dir = globDir(String(t.path));
    const read: SourceRead[] = [{ key: "path", path: dir }];
    // current_logfiles: the key's file, else the one in the log dir's parent, unless false.
    if (typeof t.current_logfiles === "string") {
      read.push({ key: "current_logfiles", path: t.current_logfiles });
    } else if (t.current_logfiles !== false) {
      read.push({ key: "path", path: `${parentDir(dir)}/current_logfiles` });
    }
    return { read, net: [], write: [] };
  },
  proxy: (t) => {
    // Listens on `listen`, connects to `upstream` (its sslrootcert read), reads the client cert.
    const reach = dsnReach(String(t.upstream));
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(String(t.listen));
    if (m !== null) reach.net.push(hostPort(m[1] ?? m[2]!, Number(m[3])));
    for (const key of ["tls_cert", "tls_key"]) {
      if (typeof t[key] === "string") reach.read.push({ key, path: t[key] as string });
    }
    return reach;
  },
};

/** What a source of `type` reaches, or undefined for a type without a rule. */
export function sourceReach(type: string, table: Table): SourceReach | undefined {
  const rule = Object.hasOwn(RULES, type) ? RULES[type] : undefined;
  return rule?.(table);
}

/**
 * Refuses a `[[sources]]` table that would read inside a data directory: `dataDirs` (the
 * configured one) or any marked as a Vigil store. Throws `TypeError` naming the key. A table
 * too malformed to say what it reads is left to its plugin's own check.
 */
export function fenceSource(table: Table, dataDirs: readonly string[]): void {
  const name = typeof table.name === "string" ? ` "${table.name}"` : "";
  const where = `source${name}`;
  let reach: SourceReach | undefined;
  try {
    reach = sourceReach(String(table.type), table);
  } catch {
    return; // A malformed dsn or path: the plugin's check names it.
  }
  for (const r of reach?.read ?? []) {
    checkOutsideDataDir(r.path, {
      key: r.key,
      where,
      dataDirs,
      ...(r.secret ? { secret: true } : {}),
    });
  }
  for (const socket of reach?.write ?? []) {
    checkOutsideDataDir(socket, { key: "dsn", where, dataDirs });
  }
}

/** `host:port`, with IPv6 addresses in brackets as Deno's `--allow-net` wants them. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * The reach of a `postgres://` DSN, as the WAL plugin's parser reads it: `host`/`port` query
 * parameters override the authority; a host starting with `/` is a socket directory.
 */
function dsnReach(dsn: string): SourceReach {
  const m =
    /^postgres(?:ql)?:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?(?:\/[^?#]*)?(?:\?([^#]*))?$/
      .exec(dsn);
  if (m === null) throw new TypeError("dsn: not a postgres:// connection URL");
  const params = new Map<string, string>();
  for (const pair of (m[3] ?? "").split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const key = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
    params.set(key, decodeURIComponent(eq < 0 ? "" : pair.slice(eq + 1)));
  }
  const rawHost = m[1] ?? "";
  const host = params.get("host") ??
    (rawHost.startsWith("[") ? rawHost.slice(1, -1) : decodeURIComponent(rawHost));
  const port = Number(params.get("port") ?? (m[2] || "5432"));
  const read: SourceRead[] = [];
  const root = params.get("sslrootcert");
  if (root !== undefined) read.push({ key: "dsn", path: root });
  if (host.startsWith("/")) {
    const socket = `${host.replace(/\/+$/, "")}/.s.PGSQL.${port}`;
    return { read: [...read, { key: "dsn", path: socket }], net: [], write: [socket] };
  }
  return { read, net: [hostPort(host, port)], write: [] };
}

/** The directory part of a log glob (wildcards are allowed in the file name only). */
function globDir(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

/** The parent of `dir` once `..` and `.` are resolved, as the pgAudit source computes it. */
function parentDir(dir: string): string {
  const trimmed = normalize(dir).replace(/\/+$/, "");
  const slash = trimmed.lastIndexOf("/");
  return slash <= 0 ? "/" : trimmed.slice(0, slash);
}
