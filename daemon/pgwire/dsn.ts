/**
 * Parses libpq-style connection URLs, `postgres://user:pass@host:port/db?sslmode=…`, into the
 * settings {@link connect} needs. Parts are percent-decoded; an unknown query parameter is an
 * error, as every unknown key is in Vigil's config, rather than a setting silently ignored.
 * Error messages never repeat the password.
 */

/**
 * TLS modes. `require` and `verify-ca` both check the certificate chain (against `sslrootcert`
 * or the system roots) but not the host name: Deno offers no way to turn chain checking off
 * for one connection, so `require` is stricter than libpq's. `prefer` and `allow` are refused
 * for the same reason — with them a bad certificate would silently mean plaintext.
 */
export type SslMode = "disable" | "require" | "verify-ca" | "verify-full";

/** Where and how to connect; what a DSN holds. */
export interface ConnectionConfig {
  /** Host name or IP address, or a directory holding the server's Unix socket (starts `/`). */
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  /** Default `disable`; set `verify-full` for anything not on loopback. */
  sslmode: SslMode;
  /** Path of a PEM file with the CA certificates to trust, besides the system's. */
  sslrootcert?: string;
  applicationName?: string;
  /** Time allowed for connecting, TLS and login together; default 10 s. */
  connectTimeoutMs: number;
}

const DEFAULT_PORT = 5432;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const SSL_MODES: readonly string[] = ["disable", "require", "verify-ca", "verify-full"];
const URL_SHAPE =
  /^postgres(?:ql)?:\/\/(?:([^@/?#]*)@)?(\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?(?:\/([^?#]*))?(?:\?([^#]*))?$/;

/** Parses a `postgres://` or `postgresql://` URL; throws `TypeError` naming the bad part. */
export function parseDsn(dsn: string): ConnectionConfig {
  const shown = redactDsn(dsn);
  const match = URL_SHAPE.exec(dsn);
  if (!match) throw new TypeError(`Not a postgres:// connection URL: ${shown}`);
  const [, auth, rawHost = "", rawPort, rawDb, query] = match;
  const values: Record<string, string> = {};
  if (auth !== undefined) {
    const colon = auth.indexOf(":");
    values.user = decode(colon < 0 ? auth : auth.slice(0, colon), "user", shown);
    if (colon >= 0) values.password = decode(auth.slice(colon + 1), "password", shown);
  }
  const host = rawHost.startsWith("[") ? rawHost.slice(1, -1) : decode(rawHost, "host", shown);
  if (host !== "") values.host = host;
  if (rawPort !== undefined && rawPort !== "") values.port = rawPort;
  if (rawDb !== undefined && rawDb !== "") values.dbname = decode(rawDb, "database", shown);
  for (const pair of query ? query.split("&") : []) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const key = decode(eq < 0 ? pair : pair.slice(0, eq), "parameter name", shown);
    if (!PARAMETERS.has(key)) {
      throw new TypeError(`Unknown connection parameter "${key}" in ${shown}`);
    }
    values[key] = decode(eq < 0 ? "" : pair.slice(eq + 1), `parameter ${key}`, shown);
  }
  return configFrom(values, shown);
}

/** The DSN with its password replaced by `***`, for messages and logs. */
export function redactDsn(dsn: string): string {
  return dsn.replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*:)[^@/?#]*@/, "$1***@")
    .replace(/([?&]password=)[^&#]*/, "$1***");
}

const PARAMETERS = new Set([
  "host",
  "port",
  "dbname",
  "user",
  "password",
  "sslmode",
  "sslrootcert",
  "application_name",
  "connect_timeout",
]);

function configFrom(values: Record<string, string>, shown: string): ConnectionConfig {
  const user = values.user;
  if (!user) throw new TypeError(`No user name in ${shown}`);
  const host = values.host;
  if (!host) throw new TypeError(`No host in ${shown}`);
  if (host.includes(",")) throw new TypeError(`Several hosts are not supported: ${shown}`);
  const port = Number(values.port ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`Bad port "${values.port}" in ${shown}`);
  }
  const sslmode = values.sslmode ?? "disable";
  if (!SSL_MODES.includes(sslmode)) {
    throw new TypeError(
      `Unsupported sslmode "${sslmode}" in ${shown}: use ${SSL_MODES.join(", ")}`,
    );
  }
  const timeout = values.connect_timeout;
  const timeoutSeconds = timeout === undefined ? undefined : Number(timeout);
  if (timeoutSeconds !== undefined && !(Number.isFinite(timeoutSeconds) && timeoutSeconds > 0)) {
    throw new TypeError(`Bad connect_timeout "${timeout}" in ${shown}: seconds above 0`);
  }
  const config: ConnectionConfig = {
    host,
    port,
    user,
    database: values.dbname ?? user,
    sslmode: sslmode as SslMode,
    connectTimeoutMs: timeoutSeconds === undefined
      ? DEFAULT_CONNECT_TIMEOUT_MS
      : Math.round(timeoutSeconds * 1000),
  };
  if (values.password !== undefined) config.password = values.password;
  if (values.sslrootcert !== undefined) config.sslrootcert = values.sslrootcert;
  if (values.application_name !== undefined) config.applicationName = values.application_name;
  return config;
}

function decode(text: string, what: string, shown: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new TypeError(`Bad percent-encoding in the ${what} of ${shown}`);
  }
}
