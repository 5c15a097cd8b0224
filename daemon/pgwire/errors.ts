/**
 * Errors of a PostgreSQL wire connection. There is one domain error, {@link ReplicationError},
 * tagged with the stage that failed (connect, auth, query, replicate) and the server it talked
 * to, so that a supervisor can count and retry by stage. When the server itself reported the
 * failure, the error is the subclass {@link PgError}, which keeps the fields of the server's
 * ErrorResponse (SQLSTATE, detail, hint) instead of flattening them into text.
 */

/** Where a connection failed: opening it, logging in, a command, or the replication stream. */
export type WireStage = "connect" | "auth" | "query" | "replicate";

/** Context carried by every error: which server, and where in the WAL if streaming. */
export interface ErrorContext {
  /** `host:port` (or the socket path) of the server. */
  server: string;
  /** The last LSN received when the failure happened, for stage `replicate`. */
  lsn?: bigint;
  cause?: unknown;
}

/** A connection or replication failure, tagged with its stage. */
export class ReplicationError extends Error {
  override name = "ReplicationError";
  readonly stage: WireStage;
  readonly server: string;
  readonly lsn: bigint | undefined;

  constructor(stage: WireStage, message: string, context: ErrorContext) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.stage = stage;
    this.server = context.server;
    this.lsn = context.lsn;
  }
}

/**
 * A connection that failed before a PostgreSQL server said anything of its protocol: refused,
 * unreachable, timed out, closed, TLS refused or failed, or bytes that are no PostgreSQL
 * message. The message keeps the details for the log; "Test connection" shows none of them, so
 * that it cannot tell one port from another (`probe.ts`).
 */
export class NoServerError extends ReplicationError {
  override name = "NoServerError";
}

/** The fields of an ErrorResponse or NoticeResponse, by their protocol names. */
export interface PgNotice {
  /** Non-localised severity (`ERROR`, `FATAL`, `PANIC`, `WARNING`, `NOTICE`, …). */
  severity: string;
  /** SQLSTATE, e.g. `28P01` for a wrong password. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  /** Every field as sent, keyed by its one-letter protocol code (`S`, `V`, `C`, `M`, …). */
  fields: Readonly<Record<string, string>>;
}

/** An error the server reported (ErrorResponse), with its fields. */
export class PgError extends ReplicationError {
  override name = "PgError";
  readonly severity: string;
  readonly code: string;
  /** The server's own message, without the context this error's `message` adds. */
  readonly serverMessage: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly fields: Readonly<Record<string, string>>;

  /** `what` says what could not be done, e.g. `Cannot authenticate as "vigil" to db1:5432`. */
  constructor(stage: WireStage, what: string, notice: PgNotice, context: ErrorContext) {
    super(stage, `${what}: ${describeNotice(notice)}`, context);
    this.severity = notice.severity;
    this.code = notice.code;
    this.serverMessage = notice.message;
    this.detail = notice.detail;
    this.hint = notice.hint;
    this.fields = notice.fields;
  }
}

/** Parses the body of an ErrorResponse ('E') or NoticeResponse ('N'). */
export function parseNotice(payload: Uint8Array): PgNotice {
  const fields: Record<string, string> = {};
  const decoder = new TextDecoder();
  let pos = 0;
  while (pos < payload.length && payload[pos] !== 0) {
    const code = String.fromCharCode(payload[pos]!);
    const end = payload.indexOf(0, pos + 1);
    if (end < 0) throw new SyntaxError(`Unterminated field "${code}" in an error or notice`);
    fields[code] = decoder.decode(payload.subarray(pos + 1, end));
    pos = end + 1;
  }
  const notice: PgNotice = {
    // `V` (9.6+) is never translated; `S` may be, so it is only the fallback.
    severity: fields.V ?? fields.S ?? "ERROR",
    code: fields.C ?? "XX000",
    message: fields.M ?? "(no message)",
    fields,
  };
  if (fields.D !== undefined) notice.detail = fields.D;
  if (fields.H !== undefined) notice.hint = fields.H;
  return notice;
}

/** `FATAL 28P01 password authentication failed for user "x" (detail: …; hint: …)`. */
export function describeNotice(notice: PgNotice): string {
  const extra = [
    notice.detail === undefined ? "" : `detail: ${notice.detail}`,
    notice.hint === undefined ? "" : `hint: ${notice.hint}`,
  ].filter((part) => part !== "");
  const suffix = extra.length > 0 ? ` (${extra.join("; ")})` : "";
  return `${notice.severity} ${notice.code} ${notice.message}${suffix}`;
}
