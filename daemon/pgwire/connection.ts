/**
 * A PostgreSQL frontend/backend protocol connection: TCP or Unix socket, optional TLS, login,
 * and the simple query protocol with rows as text. It is what the replication client builds
 * on — `replication: "database"` opens a walsender connection that takes both replication
 * commands and SQL — and it exposes the raw message channel ({@link PgConnection.receive},
 * {@link PgConnection.send}, {@link PgConnection.reader}) for the CopyBoth stream.
 *
 * Session settings that shape text output (DateStyle, TimeZone, IntervalStyle,
 * extra_float_digits, bytea_output, client_encoding, lc_monetary for `money`,
 * quote_all_identifiers and — on replication connections — search_path for `regclass` and the
 * other `reg*` types) are pinned in the startup message, so what the server prints — including
 * what pgoutput sends for each column — does not depend on per-role or per-database defaults on
 * the server. Startup parameters outrank `ALTER ROLE/DATABASE … SET`.
 */
import { type ConnectionConfig, parseDsn } from "./dsn.ts";
import { queryMessage, startupMessage, terminateMessage } from "./encode.ts";
import {
  NoServerError,
  parseNotice,
  PgError,
  type PgNotice,
  ReplicationError,
  type WireStage,
} from "./errors.ts";
import { authenticate } from "./auth.ts";
import { type BackendMessage, MessageReader } from "./reader.ts";
import { negotiateTls, writeAll } from "./tls.ts";
import { parseColumns, parseRow } from "./rows.ts";

export { parseDsn, redactDsn } from "./dsn.ts";
export type { ConnectionConfig, SslMode } from "./dsn.ts";

/** A DSN's settings plus what only code can set. */
export interface ConnectOptions extends ConnectionConfig {
  /** `"database"` opens a logical replication (walsender) connection. */
  replication?: "database";
  /** More startup parameters (server settings); they override the pinned defaults. */
  params?: Readonly<Record<string, string>>;
  /** PEM CA certificates to trust, besides `sslrootcert` and the system roots. */
  caCerts?: string[];
  /** Receives NoticeResponses; by default they are dropped. */
  onNotice?: (notice: PgNotice) => void;
}

/** One statement's result: column names, rows as text (null for SQL NULL), command tag. */
export interface QueryResult {
  command: string;
  columns: string[];
  rows: (string | null)[][];
}

/** Settings that make the server's text output the same on every server. */
const PINNED_SETTINGS: Readonly<Record<string, string>> = {
  client_encoding: "UTF8",
  DateStyle: "ISO, MDY",
  TimeZone: "UTC",
  IntervalStyle: "postgres",
  extra_float_digits: "3",
  bytea_output: "hex",
  // money: `$1,234.50` in C, `1.234,50 €` under de_DE.
  lc_monetary: "C",
  // regclass and friends: `"public"."t"` instead of `public.t`.
  quote_all_identifiers: "off",
};

/**
 * What only a replication session pins: the schema search path, by which `regclass`,
 * `regproc`, `regtype` … print a name qualified or not (`orders` or `sales.orders`). Only
 * pg_catalog is searched, so every other name comes qualified, the same whatever the server's
 * default. Plain SQL sessions keep theirs: a caller's unqualified names must still resolve.
 */
const REPLICATION_SETTINGS: Readonly<Record<string, string>> = {
  search_path: "pg_catalog",
};

/** Opens a connection from a DSN or from parsed options, and logs in. */
export async function connect(target: string | ConnectOptions): Promise<PgConnection> {
  const opts: ConnectOptions = typeof target === "string" ? parseDsn(target) : target;
  const unix = opts.host.startsWith("/");
  const server = unix ? `${opts.host}/.s.PGSQL.${opts.port}` : `${opts.host}:${opts.port}`;
  const abort = new AbortController();
  let conn: Deno.Conn | undefined;
  let timedOut = false;
  // Until the server has said something of PostgreSQL's protocol, a failure is NoServerError.
  let greeted = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
    try {
      conn?.close();
    } catch { /* already closed */ }
  }, opts.connectTimeoutMs);
  try {
    if (unix) {
      conn = await Deno.connect({ transport: "unix", path: server });
    } else {
      const tcp = await Deno.connect({
        hostname: opts.host,
        port: opts.port,
        signal: abort.signal,
      });
      tcp.setNoDelay(true);
      tcp.setKeepAlive(true);
      conn = tcp;
      const caCerts = [...(opts.caCerts ?? [])];
      if (opts.sslrootcert) caCerts.push(await Deno.readTextFile(opts.sslrootcert));
      conn = await negotiateTls(tcp, { sslmode: opts.sslmode, host: opts.host, caCerts, server });
    }
    const pg = new PgConnection(conn, server, opts.onNotice);
    await pg.send(startupMessage(startupParams(opts)), "connect");
    await authenticate({ receive: () => pg.receive("auth"), send: (b) => pg.send(b, "auth") }, {
      user: opts.user,
      password: opts.password,
      server,
      verifiedServer: !unix && (opts.sslmode === "verify-full" || opts.sslmode === "verify-ca"),
      transport: unix ? "unix socket" : `sslmode=${opts.sslmode}`,
      onNotice: opts.onNotice,
      onGreeting: () => void (greeted = true),
    });
    await pg.awaitReady();
    return pg;
  } catch (error) {
    try {
      conn?.close();
    } catch { /* already closed */ }
    const Failure = greeted ? ReplicationError : NoServerError;
    if (timedOut) {
      throw new Failure(
        "connect",
        `Cannot connect to ${server}: no login within ${opts.connectTimeoutMs} ms`,
        { server, cause: error },
      );
    }
    if (error instanceof ReplicationError) {
      if (greeted || error instanceof NoServerError) throw error;
      throw new NoServerError(error.stage, error.message, { server, cause: error });
    }
    throw new Failure("connect", `Cannot connect to ${server}: ${String(error)}`, {
      server,
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}

function startupParams(opts: ConnectOptions): Record<string, string> {
  return {
    user: opts.user,
    database: opts.database,
    ...(opts.replication ? { replication: opts.replication } : {}),
    ...(opts.applicationName === undefined ? {} : { application_name: opts.applicationName }),
    ...PINNED_SETTINGS,
    ...(opts.replication ? REPLICATION_SETTINGS : {}),
    ...opts.params,
  };
}

/** A logged-in connection. Not safe for overlapping queries; one caller at a time. */
export class PgConnection {
  /** `host:port` or the socket path, for messages. */
  readonly server: string;
  #conn: Deno.Conn;
  #reader: MessageReader;
  #onNotice: ((notice: PgNotice) => void) | undefined;
  #writing: Promise<void> = Promise.resolve();
  #parameters = new Map<string, string>();
  #backendPid = 0;
  #busy = false;
  #closed = false;

  constructor(conn: Deno.Conn, server: string, onNotice?: (notice: PgNotice) => void) {
    this.#conn = conn;
    this.server = server;
    this.#reader = new MessageReader(conn);
    this.#onNotice = onNotice;
  }

  /** Server parameters reported so far (`server_version`, `integer_datetimes`, …). */
  get parameters(): ReadonlyMap<string, string> {
    return this.#parameters;
  }

  /** Process id of the server backend (the walsender, on a replication connection). */
  get backendPid(): number {
    return this.#backendPid;
  }

  /** The message reader, for the replication stream's hot loop. */
  get reader(): MessageReader {
    return this.#reader;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes one message; writes never interleave, whoever calls. */
  send(bytes: Uint8Array, stage: WireStage): Promise<void> {
    const write = this.#writing.then(() => writeAll(this.#conn, bytes));
    this.#writing = write.catch(() => {});
    return write.catch((error) => {
      throw this.#ioError(stage, "write to", error);
    });
  }

  /** The next message; throws a stage-tagged `ReplicationError` when the connection ends. */
  async receive(stage: WireStage): Promise<BackendMessage> {
    let message: BackendMessage | null;
    try {
      message = await this.#reader.next();
    } catch (error) {
      throw this.#ioError(stage, "read from", error);
    }
    if (message === null) {
      this.abort();
      throw new ReplicationError(stage, `The server ${this.server} closed the connection`, {
        server: this.server,
      });
    }
    return message;
  }

  /** Runs SQL or a replication command; returns the last statement's result. */
  async query(sql: string, stage: WireStage = "query"): Promise<QueryResult> {
    if (this.#busy) throw new Error(`A command is already running on ${this.server}`);
    this.#busy = true;
    try {
      await this.send(queryMessage(sql), stage);
      let result: QueryResult = { command: "", columns: [], rows: [] };
      let failure: PgError | undefined;
      const decoder = new TextDecoder();
      for (;;) {
        const { type, payload } = await this.receive(stage);
        switch (type) {
          case 0x54: // 'T' RowDescription
            result = { command: "", columns: parseColumns(payload, decoder), rows: [] };
            break;
          case 0x44: // 'D' DataRow
            result.rows.push(parseRow(payload, decoder));
            break;
          case 0x43: // 'C' CommandComplete
            result.command = decoder.decode(payload.subarray(0, -1));
            break;
          case 0x45: { // 'E'; the server still ends with ReadyForQuery
            const what = `Cannot run "${sql.slice(0, 80)}" on ${this.server}`;
            failure = new PgError(stage, what, parseNotice(payload), { server: this.server });
            break;
          }
          case 0x5a: // 'Z' ReadyForQuery
            if (failure) throw failure;
            return result;
          default:
            this.handleAsync(type, payload, stage);
        }
      }
    } finally {
      this.#busy = false;
    }
  }

  /** Reads until ReadyForQuery after login, noting parameters and the backend key. */
  async awaitReady(): Promise<void> {
    for (;;) {
      const { type, payload } = await this.receive("connect");
      if (type === 0x5a) return;
      if (type === 0x4b && payload.length >= 4) { // 'K' BackendKeyData
        this.#backendPid = new DataView(payload.buffer, payload.byteOffset).getInt32(0);
      } else if (type === 0x45) {
        const what = `Cannot start a session on ${this.server}`;
        throw new PgError("connect", what, parseNotice(payload), { server: this.server });
      } else {
        this.handleAsync(type, payload, "connect");
      }
    }
  }

  /** Handles messages the server may send at any time; anything else is a protocol error. */
  handleAsync(type: number, payload: Uint8Array, stage: WireStage): void {
    if (type === 0x4e) { // 'N' NoticeResponse
      this.#onNotice?.(parseNotice(payload));
    } else if (type === 0x53) { // 'S' ParameterStatus
      const [key = "", value = ""] = new TextDecoder().decode(payload).split("\0");
      this.#parameters.set(key, value);
    } else if (type !== 0x41) { // 'A' NotificationResponse is of no interest
      const shown = JSON.stringify(String.fromCharCode(type));
      throw new ReplicationError(stage, `Unexpected message ${shown} from ${this.server}`, {
        server: this.server,
      });
    }
  }

  /** Says goodbye (Terminate) and closes the socket; safe to call more than once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.send(terminateMessage(), "connect").catch(() => {}); // Best effort: closing anyway.
    this.abort();
  }

  /** Closes the socket at once, which also ends a pending read. */
  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  #ioError(stage: WireStage, verb: string, error: unknown): ReplicationError {
    if (error instanceof ReplicationError) return error;
    const why = this.#closed ? "the connection was closed" : String(error);
    this.abort();
    return new ReplicationError(stage, `Cannot ${verb} ${this.server}: ${why}`, {
      server: this.server,
      cause: error,
    });
  }
}
