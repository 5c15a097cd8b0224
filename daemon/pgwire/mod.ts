/**
 * The PostgreSQL frontend/backend protocol as one library, for every part of Vigil that talks
 * to a server or stands between a client and one (the WAL source, `pg-install`, the proxy):
 * connections with TLS and SCRAM, DSN parsing that never repeats a password, the messages
 * Vigil sends, the backend message reader and the errors, tagged by stage. Code outside
 * `daemon/pgwire/` imports from here; the files behind it are the library's own business.
 */

export { type AuthChannel, authenticate, type Credentials, md5Password } from "./auth.ts";
export { connect, type ConnectOptions, PgConnection, type QueryResult } from "./connection.ts";
export { type ConnectionConfig, parseDsn, redactDsn, type SslMode } from "./dsn.ts";
export {
  copyDone,
  passwordMessage,
  queryMessage,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  standbyStatusUpdate,
  startupMessage,
  terminateMessage,
} from "./encode.ts";
export {
  describeNotice,
  type ErrorContext,
  NoServerError,
  parseNotice,
  PgError,
  type PgNotice,
  ReplicationError,
  type WireStage,
} from "./errors.ts";
export {
  type BackendMessage,
  type ByteSource,
  DEFAULT_CHUNK_SIZE,
  MessageReader,
} from "./reader.ts";
export { parseColumns, parseRow } from "./rows.ts";
export { saslPrep, SCRAM_SHA_256, ScramClient, type ScramOptions } from "./scram.ts";
export { negotiateTls, type TlsOptions, writeAll } from "./tls.ts";
