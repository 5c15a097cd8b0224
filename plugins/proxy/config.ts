/**
 * The settings of a proxy source and their checks. A `[[sources]]` table of `type = "proxy"`
 * arrives as plain keys — `listen`, `upstream`, `mode`, `tls_cert`/`tls_key`, and two bounds —
 * and a bad value is refused before anything listens, with a `TypeError` that names the key.
 *
 * The upstream URL says where and how to reach the server (host, port, `sslmode`,
 * `sslrootcert`), never as whom: clients authenticate end to end, so a user, password or
 * database in it is an error rather than something silently ignored.
 */

import { checkOutsideDataDir } from "../../daemon/config/data_fence.ts";
import { ConfigKeyError } from "../../daemon/config/fields.ts";
import { PROXY_FIELDS } from "./fields.ts";
import { type ListenAddress, parseListen } from "../../daemon/config/listen.ts";
import { REDACT_KEYS, redactionFromTable } from "../../daemon/event/redact.ts";
import type { RedactOptions } from "../../daemon/event/redact.ts";
import { type ConnectionConfig, parseDsn, redactDsn } from "../../daemon/pgwire/dsn.ts";

/** observe: events stored asynchronously; enforce: results wait for their durable events. */
export type ProxyMode = "observe" | "enforce";

/** A checked proxy source table. */
export interface ProxySettings {
  listen: ListenAddress;
  /** The upstream URL as configured (it holds no secret). */
  upstream: string;
  /** Host, port, sslmode and sslrootcert of the upstream. */
  server: Omit<ConnectionConfig, "user" | "database" | "password">;
  mode: ProxyMode;
  tlsCert: string | null;
  tlsKey: string | null;
  /** Observe mode: events waiting for the store at most, beyond which they are counted lost. */
  backlogEvents: number;
  /**
   * Enforce mode: bytes of events durable in the source's spool and not yet stored at most,
   * beyond which statements are refused.
   */
  spoolBytes: number;
  /** Bytes of a statement's text and of its parameters kept in its event at most. */
  recordBytes: number;
  /** Client sessions at once at most; more are refused with SQLSTATE 53300. */
  maxSessions: number;
  redaction: Required<RedactOptions>;
}

/** Defaults of the optional keys. */
export const PROXY_DEFAULTS: Readonly<
  {
    mode: ProxyMode;
    backlog_events: number;
    spool_bytes: number;
    record_bytes: number;
    max_sessions: number;
  }
> = Object.freeze({
  mode: "observe",
  backlog_events: 100_000,
  spool_bytes: 32 * 1024 * 1024,
  record_bytes: 65_536,
  max_sessions: 1000,
});

/** The keys of a proxy source table, for messages (the field list's, but redaction's). */
export const PROXY_KEYS: readonly string[] = Object.freeze(
  PROXY_FIELDS.map((f) => f.key).filter((k) => !REDACT_KEYS.includes(k)),
);

const COMMON_KEYS = new Set(["name", "type", ...REDACT_KEYS]);
/** Each integer setting's range, from the field list. */
const LIMITS: Readonly<Record<string, readonly [number, number]>> = Object.fromEntries(
  PROXY_FIELDS.filter((f) => f.kind === "integer").map((f) => [f.key, [f.min!, f.max!]]),
);
/** A placeholder user, so that the shared DSN parser checks the rest of the URL. */
const NOBODY = "vigil-proxy-upstream";

/** Reads and checks a `[[sources]]` table of type "proxy"; throws `ConfigKeyError` naming the key. */
export function proxyConfigFromTable(table: Readonly<Record<string, unknown>>): ProxySettings {
  const where = typeof table.name === "string" ? `proxy source "${table.name}"` : "proxy source";
  const bad = (key: string, why: string): ConfigKeyError =>
    new ConfigKeyError(key, `Bad "${key}" in ${where}: ${why}`);
  if (table.type !== undefined && table.type !== "proxy") {
    throw bad("type", `expected "proxy", got ${JSON.stringify(table.type)}`);
  }
  for (const key of Object.keys(table)) {
    if (!COMMON_KEYS.has(key) && !PROXY_KEYS.includes(key)) {
      const known = [...PROXY_KEYS, ...REDACT_KEYS].join(", ");
      throw new ConfigKeyError(key, `Unknown key "${key}" in ${where}: the keys are ${known}`);
    }
  }
  const text = (key: string, required: boolean): string | null => {
    const v = table[key];
    if (v === undefined) {
      if (required) throw bad(key, "it is required");
      return null;
    }
    if (typeof v !== "string" || v === "") throw bad(key, "expected a non-empty string");
    return v;
  };
  let listen: ListenAddress;
  try {
    listen = parseListen(text("listen", true)!);
  } catch (e) {
    throw bad("listen", (e as Error).message);
  }
  const upstream = text("upstream", true)!;
  const server = parseUpstream(upstream, (why) => bad("upstream", why));
  if (server.sslrootcert !== undefined) {
    checkOutsideDataDir(server.sslrootcert, { key: "upstream", where });
  }
  const mode = text("mode", false) ?? PROXY_DEFAULTS.mode;
  if (mode !== "observe" && mode !== "enforce") {
    throw bad("mode", `expected "observe" or "enforce", got ${JSON.stringify(mode)}`);
  }
  const tlsCert = text("tls_cert", false);
  const tlsKey = text("tls_key", false);
  if ((tlsCert === null) !== (tlsKey === null)) {
    throw bad(tlsCert === null ? "tls_cert" : "tls_key", "tls_cert and tls_key go together");
  }
  if (tlsCert === null && !listen.loopback) {
    throw bad(
      "tls_cert",
      `required for a listen address other than loopback (${listen.hostname}): clients ` +
        "must reach the proxy over TLS",
    );
  }
  for (const [key, path] of [["tls_cert", tlsCert], ["tls_key", tlsKey]] as const) {
    if (path !== null) checkOutsideDataDir(path, { key, where });
  }
  const int = (key: keyof typeof LIMITS): number => {
    const v = table[key] ?? PROXY_DEFAULTS[key as keyof typeof PROXY_DEFAULTS];
    const [min, max] = LIMITS[key]!;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      throw bad(key, `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  return {
    listen,
    upstream,
    server,
    mode,
    tlsCert,
    tlsKey,
    backlogEvents: int("backlog_events"),
    spoolBytes: int("spool_bytes"),
    recordBytes: int("record_bytes"),
    maxSessions: int("max_sessions"),
    redaction: redactionFromTable(table, where),
  };
}

/** Checks an upstream URL: a `postgres://` URL with host, port and TLS settings only. */
function parseUpstream(
  url: string,
  bad: (why: string) => TypeError,
): ProxySettings["server"] {
  const m = /^(postgres(?:ql)?:\/\/)([^/?#]*)(.*)$/.exec(url);
  if (m === null) throw bad(`not a postgres:// URL: ${redactDsn(url)}`);
  const [, scheme, authority = "", rest = ""] = m;
  if (authority.includes("@")) {
    throw bad(
      "it may not hold a user or password: clients log in end to end with their own (" +
        redactDsn(url) + ")",
    );
  }
  let config: ConnectionConfig;
  try {
    config = parseDsn(`${scheme}${NOBODY}@${authority}${rest}`);
  } catch (e) {
    throw bad((e as Error).message.replaceAll(`${NOBODY}@`, ""));
  }
  if (config.user !== NOBODY || config.password !== undefined) {
    throw bad("it may not hold a user or password: clients log in end to end with their own");
  }
  if (config.database !== NOBODY) {
    throw bad("it may not name a database: each client chooses its own");
  }
  if (config.applicationName !== undefined) {
    throw bad("it may not set application_name: each client sends its own");
  }
  if (config.host.startsWith("/")) {
    throw bad("a Unix socket is not supported; use host:port");
  }
  const { user: _u, database: _d, password: _p, applicationName: _a, ...server } = config;
  return server;
}
