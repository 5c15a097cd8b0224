/**
 * One statement's event, as the tracker completes it: the statement's text (as far as it is
 * kept) and bind parameters decoded to text, the command from the CommandComplete tag (or the
 * statement's first keyword when it failed), the row count, error, duration and how it was
 * run. The tracker fills in the transaction state once the server tells it, or, for an event
 * that cannot wait for that, as the outcome implies it ({@link stateAfter}).
 */

import type { JsonObject, NewEvent } from "../../daemon/event/model.ts";
import type { PgNotice } from "../../daemon/pgwire/errors.ts";
import type { SessionEvents } from "./events.ts";
import type { KeptPortal } from "./kept.ts";
import { paramText } from "./params.ts";

/** The kinds of request the server answers in order. */
export type OpKind =
  | "query"
  | "parse"
  | "bind"
  | "describe"
  | "execute"
  | "close"
  | "sync"
  | "function";

/**
 * Something the client sent that the server will answer. Every field is always present (unset
 * ones undefined), so that all ops share one shape: the tracker makes several a statement.
 */
export interface Op {
  kind: OpKind;
  ts: number;
  t0: number;
  text: string | undefined;
  cutBytes: number | undefined;
  statementName: string | undefined;
  portal: KeptPortal | undefined;
  portalName: string | undefined;
  describe: "S" | "P" | undefined;
  rows: number;
  part: number;
  bytesIn: number;
  bytesOut: number;
  notices: string[] | undefined;
}

/** How a statement ended. */
export interface Outcome {
  tag?: string;
  error?: PgNotice;
  /** PortalSuspended: the Execute's row limit was reached. */
  suspended?: boolean;
}

/** The event of `op`'s completion (without its transaction state). */
export function statementEvent(
  op: Op,
  outcome: Outcome,
  ctx: { events: SessionEvents; recordBytes: number; now: number },
): NewEvent {
  const context: JsonObject = {
    protocol: op.kind === "query" ? "simple" : "extended",
    duration_us: Math.round((ctx.now - op.t0) * 1000),
  };
  if (op.kind !== "query" && op.statementName !== undefined) {
    context.statement_name = op.statementName;
  }
  if (op.portalName !== undefined) context.portal = op.portalName;
  if (outcome.tag !== undefined) context.tag = outcome.tag;
  const rows = outcome.tag === undefined ? op.rows : rowsOf(outcome.tag) ?? undefined;
  if (rows !== undefined && (outcome.tag !== undefined || op.rows > 0)) context.rows = rows;
  if (outcome.suspended) context.suspended = true;
  if (op.part > 0) context.part = op.part;
  if (op.cutBytes !== undefined) {
    context.statement_truncated = true;
    context.statement_bytes = op.cutBytes;
  }
  if (op.bytesIn > 0 || op.bytesOut > 0 || outcome.tag?.startsWith("COPY")) {
    context.bytes_in = op.bytesIn;
    context.bytes_out = op.bytesOut;
  }
  if (op.notices !== undefined) context.notices = op.notices;
  let statement = op.text;
  if (statement === undefined && op.kind === "execute") {
    statement = `(statement "${op.statementName ?? ""}" not kept by the proxy)`;
  }
  const params = op.kind === "execute" || op.kind === "bind"
    ? paramsOf(op.portal, context, ctx.recordBytes)
    : undefined;
  const error = outcome.error;
  const command = outcome.tag !== undefined && outcome.tag !== ""
    ? verbOf(outcome.tag)
    : op.kind === "function"
    ? "FUNCTION CALL"
    : firstKeyword(op.text) ?? op.kind.toUpperCase();
  return ctx.events.statement(command, op.ts, context, {
    statement,
    params,
    sqlstate: error?.code,
    error: error?.message,
  });
}

/** A portal's parameters as text, each at most `recordBytes`; notes cuts in `context`. */
function paramsOf(
  portal: KeptPortal | undefined,
  context: JsonObject,
  recordBytes: number,
): (string | null)[] | undefined {
  if (portal === undefined || portal.count === 0) return undefined;
  const types = portal.statement?.types ?? [];
  const out: (string | null)[] = [];
  for (let i = 0; i < portal.values.length; i++) {
    const text = paramText(portal.values[i]!, portal.formats[i] ?? 0, types[i] ?? 0);
    if (text === null) {
      out.push(null);
      continue;
    }
    const kept = capText(text, recordBytes);
    out.push(kept.text);
    if (kept.cut) context.params_truncated = true;
  }
  if (portal.cut || portal.values.length < portal.count || context.params_truncated) {
    // The Bind message was longer than what is recorded: the last value may be cut too.
    context.params_truncated = true;
    context.params_count = portal.count;
  }
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `text` cut to at most `maxBytes` of UTF-8 (never inside a character), and whether it was. */
export function capText(text: string, maxBytes: number): { text: string; cut: boolean } {
  // A UTF-16 unit is at most 3 bytes of UTF-8: most texts need no encoding to know.
  if (text.length * 3 <= maxBytes) return { text, cut: false };
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return { text, cut: false };
  const head = decoder.decode(bytes.subarray(0, maxBytes)).replace(/\uFFFD+$/, "");
  return { text: head, cut: true };
}

/** The tag without its counts: `INSERT 0 1` → `INSERT`, `CREATE TABLE` stays. */
export function verbOf(tag: string): string {
  // What `tag.replace(/( \d+)+$/, "")` gives, by a walk back over the counts: once a statement.
  let end = tag.length;
  for (;;) {
    const start = countStart(tag, end);
    if (start === end || start === 0 || tag.charCodeAt(start - 1) !== 0x20) {
      return tag.slice(0, end);
    }
    end = start - 1;
  }
}

/** The row count a tag carries (`SELECT 5`, `INSERT 0 1`, `COPY 3`), or undefined. */
export function rowsOf(tag: string): number | undefined {
  const start = countStart(tag, tag.length);
  if (start === tag.length || start === 0 || tag.charCodeAt(start - 1) !== 0x20) return undefined;
  return Number(tag.slice(start));
}

/** Where the ASCII digits that end `tag` before `end` begin (`end` when there are none). */
function countStart(tag: string, end: number): number {
  let i = end;
  while (i > 0) {
    const c = tag.charCodeAt(i - 1);
    if (c < 0x30 || c > 0x39) break;
    i--;
  }
  return i;
}

/** The first keyword of a statement, upper-cased, past comments and white space. */
export function firstKeyword(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const stripped = text.replace(/^(?:\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)*/, "");
  const m = /^[A-Za-z_]+/.exec(stripped);
  return m ? m[0].toUpperCase() : undefined;
}

/** `ROLLBACK TO SAVEPOINT`, whose tag is a plain `ROLLBACK` but which stays in the transaction. */
const ROLLBACK_TO = /^\s*(?:rollback|abort)\s+(?:work\s+|transaction\s+)?to\b/i;

/**
 * The transaction state (ReadyForQuery's `I`, `T` or `E`) after a statement, from the state
 * before it and its outcome: for an event that cannot wait for the server's ReadyForQuery (a
 * pipeline without a Sync yet, whose result enforce mode must store before the client sees it).
 * An error leaves an explicit transaction failed and ends an implicit one.
 */
export function stateAfter(before: string, outcome: Outcome, text: string | undefined): string {
  if (outcome.error !== undefined) return before === "I" ? "I" : "E";
  switch (outcome.tag) {
    case "BEGIN":
    case "START TRANSACTION":
      return before === "I" ? "T" : before;
    case "COMMIT":
    case "PREPARE TRANSACTION":
      return "I";
    case "ROLLBACK":
      return ROLLBACK_TO.test(text ?? "") && before !== "I" ? "T" : "I";
    default:
      return before;
  }
}
