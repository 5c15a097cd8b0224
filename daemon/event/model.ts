/**
 * The canonical audit event: one schema for every source. The field table below is the single
 * source of truth for validation, the canonical byte encoding that the store hashes, the search
 * index and the Arrow/Parquet schema of exports.
 *
 * Times are integers of microseconds since the Unix epoch (UTC): PostgreSQL's own resolution,
 * exact in a JavaScript number until the year 2255.
 */

/** What an event records. */
export const EVENT_KINDS = [
  "session",
  "object",
  "row_change",
  "ddl",
  "auth",
  "message",
  "app",
  "system",
] as const;

export type EventKind = typeof EVENT_KINDS[number];

/** A JSON object as carried in `old_row`, `new_row` and `context`. */
export type JsonObject = { [key: string]: JsonValue };
/** Any JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

/** One audit event as stored. Optional fields are absent rather than null. */
export interface AuditEvent {
  /** Store-assigned, gapless, 0-based: also the event's Merkle leaf index. */
  seq: number;
  /** Event time, µs since epoch, UTC. */
  ts: number;
  /** When the store accepted the event, µs since epoch, UTC. */
  ingest_ts: number;
  /** Name of the configured source that produced the event. */
  source: string;
  /** The source's position of this event (LSN + index, file fingerprint + offset, …). */
  source_pos?: string;
  kind: EventKind;
  db?: string;
  schema?: string;
  object?: string;
  object_type?: string;
  /** Database user. */
  role?: string;
  /** Application-level user, from application context. */
  app_user?: string;
  client_addr?: string;
  application_name?: string;
  session_id?: string;
  pid?: number;
  xid?: number;
  /** pgAudit class (READ, WRITE, DDL, ROLE, FUNCTION, MISC, …). */
  class?: string;
  command?: string;
  /** pgAudit audit type: SESSION or OBJECT. */
  audit_type?: string;
  statement_id?: number;
  substatement_id?: number;
  statement?: string;
  params?: (string | null)[];
  /** Row images as PostgreSQL's own text output per column. */
  old_row?: JsonObject;
  new_row?: JsonObject;
  /** Application who/why attached to the transaction or request. */
  context?: JsonObject;
  sqlstate?: string;
  error?: string;
  /** True when secrets were removed from the statement or parameters before storage. */
  redacted?: boolean;
  /** The original input when it could not be parsed, or the source's raw record. */
  raw?: string;
  /** Why the input could not be parsed; the event then carries `raw`. */
  parse_error?: string;
  /** Rows the statement read or wrote, as pgAudit's `log_rows` reports them. */
  rows?: number;
  /**
   * The name of the API token that posted the event, set by Vigil when it takes the post
   * (`POST /api/v1/events`); never taken from the input.
   */
  token?: string;
}

/** An event as a source hands it to the store: the store assigns `seq` and `ingest_ts`. */
export type NewEvent = Omit<AuditEvent, "seq" | "ingest_ts"> & { ingest_ts?: number };

/** The value type of a field. */
export type FieldType = "int" | "ts" | "string" | "bool" | "json" | "strings" | "kind";

/** One field of the schema. */
export interface FieldSpec {
  readonly name: keyof AuditEvent;
  readonly type: FieldType;
  readonly required: boolean;
  /** Few distinct values: dictionary-encoded in Arrow/Parquet. */
  readonly lowCardinality: boolean;
}

function f(
  name: keyof AuditEvent,
  type: FieldType,
  opts: { required?: boolean; low?: boolean } = {},
): FieldSpec {
  return { name, type, required: opts.required ?? false, lowCardinality: opts.low ?? false };
}

/** All fields, in canonical order: the order of keys in the encoded event and of Arrow columns. */
export const EVENT_FIELDS: readonly FieldSpec[] = [
  f("seq", "int", { required: true }),
  f("ts", "ts", { required: true }),
  f("ingest_ts", "ts", { required: true }),
  f("source", "string", { required: true, low: true }),
  f("source_pos", "string"),
  f("kind", "kind", { required: true, low: true }),
  f("db", "string", { low: true }),
  f("schema", "string", { low: true }),
  f("object", "string"),
  f("object_type", "string", { low: true }),
  f("role", "string", { low: true }),
  f("app_user", "string"),
  f("client_addr", "string"),
  f("application_name", "string", { low: true }),
  f("session_id", "string"),
  f("pid", "int"),
  f("xid", "int"),
  f("class", "string", { low: true }),
  f("command", "string", { low: true }),
  f("audit_type", "string", { low: true }),
  f("statement_id", "int"),
  f("substatement_id", "int"),
  f("statement", "string"),
  f("params", "strings"),
  f("old_row", "json"),
  f("new_row", "json"),
  f("context", "json"),
  f("sqlstate", "string", { low: true }),
  f("error", "string"),
  f("redacted", "bool"),
  f("raw", "string"),
  f("parse_error", "string"),
  // Fields added later go at the end: absent ones are not encoded, so old bytes stay the same.
  f("rows", "int"),
  f("token", "string", { low: true }),
];

/** Field names in canonical order. */
export const EVENT_FIELD_NAMES: readonly (keyof AuditEvent)[] = EVENT_FIELDS.map((x) => x.name);

const FIELD_BY_NAME = new Map(EVENT_FIELDS.map((x) => [x.name as string, x]));

/** The spec of a field, or undefined for a name that is not part of the schema. */
export function fieldSpec(name: string): FieldSpec | undefined {
  return FIELD_BY_NAME.get(name);
}
