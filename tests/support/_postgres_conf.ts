/**
 * The server configuration of the test harness in `postgres.ts`: what a throwaway cluster needs
 * to feed every Vigil source (pgAudit, logical WAL, all three log formats in a known dir), and
 * the pg_hba.conf that lets tests in with trust or, when asked, with scram, md5 or clear-text
 * passwords.
 */

/** File name pattern of the server logs; csvlog and jsonlog swap `.log` for `.csv`/`.json`. */
export const LOG_FILENAME = "postgresql-%Y%m%d-%H%M%S.log";

/**
 * `log_line_prefix` of every cluster, for tests that parse the stderr format: time (UTC, ms),
 * pid, then — only for session processes (`%q`) — session id, line number, user, database,
 * application and client host.
 */
export const LOG_LINE_PREFIX = "%m [%p] %q%c:%l user=%u,db=%d,app=%a,client=%h ";

/** The loopback address every cluster listens on, and the only one. */
export const HOST = "127.0.0.1";

/** A postgresql.conf value. */
export type ConfValue = string | number | boolean;

/** Inputs of {@link serverConf}. */
export interface ServerConfOptions {
  port: number;
  socketDir: string;
  logDir: string;
  pgauditLog: string;
  pgauditLogRelation: boolean;
  /** Written last, so they override the defaults above them. */
  settings?: Readonly<Record<string, ConfValue>> | undefined;
}

/** The settings file the harness includes from postgresql.conf. */
export function serverConf(opts: ServerConfOptions): string {
  const settings: Record<string, ConfValue> = {
    listen_addresses: HOST,
    port: opts.port,
    unix_socket_directories: opts.socketDir,
    shared_preload_libraries: "pgaudit",
    wal_level: "logical",
    max_replication_slots: 16,
    max_wal_senders: 16,
    logging_collector: true,
    log_destination: "stderr,csvlog,jsonlog",
    log_directory: opts.logDir,
    log_filename: LOG_FILENAME,
    log_file_mode: "0640",
    // No size or age rotation: a test finds its lines in the files current_logfiles names.
    log_rotation_age: 0,
    log_rotation_size: 0,
    log_line_prefix: LOG_LINE_PREFIX,
    log_timezone: "UTC",
    timezone: "UTC",
    // Parsers and assertions match English server messages.
    lc_messages: "C",
    log_connections: true,
    log_disconnections: true,
    "pgaudit.log": opts.pgauditLog,
    "pgaudit.log_parameter": true,
    "pgaudit.log_relation": opts.pgauditLogRelation,
    // A throwaway cluster never has to survive a host crash; skipping fsync saves seconds.
    fsync: false,
    ...opts.settings,
  };
  const lines = Object.entries(settings).map(([key, value]) => `${key} = ${confValue(value)}`);
  return `# Written by tests/support/postgres.ts\n${lines.join("\n")}\n`;
}

/** How loopback TCP logins authenticate: pg_hba.conf's method. */
export type AuthMethod = "trust" | "scram-sha-256" | "md5" | "password";

/**
 * pg_hba.conf: trust over the socket; over loopback TCP trust, or scram-sha-256 when
 * `auth` is true, or the method named.
 */
export function hbaConf(auth: boolean | AuthMethod): string {
  const method = auth === true ? "scram-sha-256" : auth === false ? "trust" : auth;
  return [
    "# Written by tests/support/postgres.ts",
    "local all all trust",
    "local replication all trust",
    `host all all ${HOST}/32 ${method}`,
    `host replication all ${HOST}/32 ${method}`,
    "",
  ].join("\n");
}

function confValue(value: ConfValue): string {
  if (typeof value === "boolean") return value ? "on" : "off";
  if (typeof value === "number") return String(value);
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}
