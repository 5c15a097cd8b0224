/**
 * Reads the audit records that Vigil's PostgreSQL side embeds in the WAL with
 * `pg_logical_emit_message(transactional, 'vigil.…', content)`, and turns each into the fields
 * of one event. Content that does not parse is kept, never dropped: the event then carries it
 * in `raw` with the reason in `parse_error`.
 *
 * - `vigil.context` — JSON object of application who/why for the transaction
 *   (`vigil.set_context(json)`); becomes a `message` event and the `context` of the
 *   transaction's changes. Its `app_user` field, or else `user`, also sets `app_user`. A
 *   number a double cannot hold (jsonb keeps `numeric` exactly) is kept as its digits' string.
 * - `vigil.ddl` — JSON object from the event triggers, with the field names of
 *   `pg_event_trigger_ddl_commands()` plus the role and the statement:
 *   `{"command_tag": "CREATE TABLE", "object_type": "table", "schema_name": "public",
 *   "object_identity": "public.t", "role": "alice", "statement": "CREATE TABLE t (…)"}`.
 *   Every field is optional; becomes a `ddl` event.
 * - `vigil.stmt` — JSON object from `pg-install`'s statement triggers, one per statement that
 *   wrote a watched table: who ran it and what (see {@link STMT_PREFIX}). Becomes a `message`
 *   event with command `STATEMENT`, the session's `role`, `client_addr`, `application_name`,
 *   `session_id`, `pid`, the `statement`, and the table as `schema`/`object`; what has no event
 *   field (`vxid`, `op`, `current_user`, `client_port`, `stmt_ts`, and the session's `pgaudit_log` and
 *   `replication_role`) goes in `context`. The
 *   trigger fires after the statement, so the message follows its row changes in the
 *   transaction; the search index links the two (`daemon/coverage/`).
 * - any other `vigil.*` — a `message` event whose `command` is the prefix and whose `raw` is
 *   the content. The source's own heartbeats (`vigil.heartbeat`, non-transactional) are one only
 *   with `store_heartbeats`; otherwise the assembler just moves the position past them.
 */

import { STATEMENT_COMMAND } from "../../daemon/coverage/join.ts";
import type { JsonObject, NewEvent } from "../../daemon/event/model.ts";
import { parseJsonExact } from "../../daemon/event/json_exact.ts";
import { byteaHex } from "./hex.ts";
import { qualifiedName } from "./ident.ts";

/** Prefix of every message Vigil reads; others belong to someone else and are passed over. */
export const VIGIL_PREFIX = "vigil.";
export const CONTEXT_PREFIX = "vigil.context";
export const DDL_PREFIX = "vigil.ddl";
/** One statement's attribution: `{"v":1,"pid":…,"vxid":"3/4","xid":"123","session_id":…}`. */
export const STMT_PREFIX = "vigil.stmt";
/** The `command` of a statement message's event: what the coverage join looks for. */
export const STMT_COMMAND = STATEMENT_COMMAND;
/** The WAL source's own non-transactional liveness message; see `watchdog.ts`. */
export const HEARTBEAT_PREFIX = "vigil.heartbeat";

/** The event fields a message sets, in addition to those of its place in the stream. */
export type MessageFields = Pick<
  NewEvent,
  | "kind"
  | "command"
  | "schema"
  | "object"
  | "object_type"
  | "role"
  | "client_addr"
  | "application_name"
  | "session_id"
  | "pid"
  | "statement"
  | "app_user"
  | "context"
  | "raw"
  | "parse_error"
>;

/** What a message means: its event's fields and, for a context message, the context. */
export interface ReadMessage {
  fields: MessageFields;
  /** The parsed context of a valid `vigil.context` message, else null. */
  context: JsonObject | null;
}

const DDL_FIELDS = [
  ["command_tag", "command"],
  ["object_type", "object_type"],
  ["schema_name", "schema"],
  ["object_identity", "object"],
  ["role", "role"],
  ["statement", "statement"],
] as const;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** True for a prefix this module reads. */
export function isVigilPrefix(prefix: string): boolean {
  return prefix.startsWith(VIGIL_PREFIX);
}

/**
 * The event fields of one `vigil.*` message.
 *
 * @example
 * readVigilMessage("vigil.context", new TextEncoder().encode('{"user":"ada"}'));
 * // { fields: { kind: "message", command: "vigil.context", context: { user: "ada" },
 * //   app_user: "ada" }, context: { user: "ada" } }
 */
export function readVigilMessage(prefix: string, content: Uint8Array): ReadMessage {
  const kind = prefix === DDL_PREFIX ? "ddl" : "message";
  let text: string;
  try {
    text = utf8.decode(content);
  } catch {
    const why = `content of the ${prefix} message is not UTF-8; raw holds its bytes in hex`;
    return {
      fields: { kind, command: prefix, raw: byteaHex(content), parse_error: why },
      context: null,
    };
  }
  if (prefix === CONTEXT_PREFIX) return readContext(text);
  if (prefix === DDL_PREFIX) return readDdl(text);
  if (prefix === STMT_PREFIX) return readStmt(text);
  return { fields: { kind, command: prefix, raw: text }, context: null };
}

/** The application user named by a context: its `app_user`, else its `user`, if a string. */
export function appUserOf(context: JsonObject): string | undefined {
  const user = Object.hasOwn(context, "app_user") ? context.app_user : context.user;
  return typeof user === "string" ? user : undefined;
}

function readContext(text: string): ReadMessage {
  const command = CONTEXT_PREFIX;
  const context = parseObject(text);
  if (typeof context === "string") {
    return { fields: { kind: "message", command, raw: text, parse_error: context }, context: null };
  }
  const fields: MessageFields = { kind: "message", command, context };
  const user = appUserOf(context);
  if (user !== undefined) fields.app_user = user;
  return { fields, context };
}

function readDdl(text: string): ReadMessage {
  const record = parseObject(text);
  if (typeof record === "string") {
    return { fields: { kind: "ddl", raw: text, parse_error: record }, context: null };
  }
  const fields: MessageFields = { kind: "ddl" };
  for (const [from, to] of DDL_FIELDS) {
    if (!Object.hasOwn(record, from)) continue;
    const value = record[from];
    if (value === null) continue;
    if (typeof value !== "string") {
      const why = `field ${JSON.stringify(from)} of the ${DDL_PREFIX} message is not a string`;
      return { fields: { kind: "ddl", raw: text, parse_error: why }, context: null };
    }
    // pg_event_trigger_ddl_commands() says "table"; pgAudit and row changes say "TABLE".
    fields[to] = to === "object_type" ? value.toUpperCase() : value;
  }
  return { fields, context: null };
}

/** Fields of a `vigil.stmt` record that become event fields: JSON key, event field, type. */
const STMT_FIELDS = [
  ["role", "role", "string"],
  ["client_addr", "client_addr", "string"],
  ["application_name", "application_name", "string"],
  ["session_id", "session_id", "string"],
  ["pid", "pid", "int"],
  ["statement", "statement", "string"],
] as const;
/** Fields kept in `context`: they have no event field. */
const STMT_CONTEXT = [
  ["vxid", "string"],
  ["op", "string"],
  ["current_user", "string"],
  ["client_port", "int"],
  ["stmt_ts", "string"],
  ["pgaudit_log", "string"],
  ["replication_role", "string"],
] as const;

function readStmt(text: string): ReadMessage {
  const command = STMT_COMMAND;
  const bad = (why: string): ReadMessage => ({
    fields: { kind: "message", command, raw: text, parse_error: why },
    context: null,
  });
  const record = parseObject(text);
  if (typeof record === "string") return bad(record);
  const typed = (key: string, type: "string" | "int"): string | number | null | undefined => {
    const v = record[key];
    if (v === undefined || v === null) return v;
    if (type === "string" ? typeof v === "string" : Number.isSafeInteger(v)) {
      return v as string | number;
    }
    throw new SyntaxError(
      `field ${JSON.stringify(key)} of the ${STMT_PREFIX} message is not ${
        type === "string" ? "a string" : "an integer"
      }`,
    );
  };
  const fields: MessageFields = { kind: "message", command };
  const context: JsonObject = {};
  try {
    for (const [from, to, type] of STMT_FIELDS) {
      const v = typed(from, type);
      if (v !== undefined && v !== null) (fields as Record<string, unknown>)[to] = v;
    }
    for (const [key, type] of STMT_CONTEXT) {
      const v = typed(key, type);
      if (v !== undefined && v !== null) context[key] = v;
    }
    const schema = typed("schema", "string");
    const table = typed("table", "string");
    if (typeof schema === "string" && typeof table === "string") {
      fields.schema = schema;
      fields.object = qualifiedName(schema, table);
      fields.object_type = "TABLE";
    }
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    return bad(e.message);
  }
  fields.context = context;
  return { fields, context: null };
}

/** The JSON object in `text`, or the reason there is none. */
function parseObject(text: string): JsonObject | string {
  let value: unknown;
  try {
    value = parseJsonExact(text);
  } catch (error) {
    return `content is not JSON: ${error instanceof Error ? error.message : error}`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "content is JSON but not an object";
  }
  return value as JsonObject;
}
