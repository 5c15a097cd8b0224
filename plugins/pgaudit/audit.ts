/**
 * pgAudit's own record inside a log message:
 *
 *     AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.t,"select * from t where a = ',' ",<params>
 *
 * audit type, statement id, substatement id, class, command, object type, object name,
 * statement, parameters and, with `pgaudit.log_rows`, the row count. pgAudit quotes a field
 * only when it holds a comma, quote, CR or LF (`append_valid_csv`), so the statement comes back
 * byte for byte after undoing that quoting. The parameters are a CSV of their own inside the
 * parameter field: one field per parameter, empty for NULL. `<none>` means the statement had no
 * parameters, `<not logged>` that parameter or statement logging is off, `<previously logged>`
 * that `pgaudit.log_statement_once` left out what an earlier line of the statement had.
 */

import { splitCsv } from "./csv_text.ts";

/** What pgAudit says about one (sub)statement. */
export interface AuditEntry {
  /** `SESSION` or `OBJECT`. */
  auditType: string;
  statementId: number;
  substatementId: number;
  /** READ, WRITE, FUNCTION, ROLE, DDL, MISC, MISC_SET. */
  class: string;
  command: string;
  objectType?: string;
  /** As pgAudit prints it: `quote_qualified_identifier()`, e.g. `public."Order Lines"`. */
  object?: string;
  /** Absent when not logged or previously logged. */
  statement?: string;
  /** Absent when not logged; empty for `<none>`; null for a NULL (or empty) parameter. */
  params?: (string | null)[];
  /** With `pgaudit.log_rows`. */
  rows?: number;
}

export const AUDIT_PREFIX = "AUDIT: ";
const TYPES: ReadonlySet<string> = new Set(["SESSION", "OBJECT"]);
const CLASS_RE = /^[A-Z_]+$/;
const ID_RE = /^\d{1,15}$/;
const NOT_LOGGED = "<not logged>";
const PREVIOUSLY_LOGGED = "<previously logged>";

/** True for a message pgAudit wrote. */
export function isAuditMessage(message: string): boolean {
  return message.startsWith(AUDIT_PREFIX);
}

/**
 * Parses a pgAudit message (with its `AUDIT: ` prefix). Throws `SyntaxError` saying what is
 * wrong when it is not one.
 *
 * An empty parameter field is NULL: pgAudit writes nothing for a NULL and nothing for an empty
 * string, so the two cannot be told apart in its output; NULL is what it means to write.
 *
 * @example
 * parseAuditMessage(`AUDIT: SESSION,5,1,READ,SELECT,,,"select $1",""" a"",`).params; // [' a', null]
 */
export function parseAuditMessage(message: string): AuditEntry {
  if (!isAuditMessage(message)) throw new SyntaxError("message does not start with AUDIT: ");
  let f: string[];
  try {
    f = splitCsv(message, AUDIT_PREFIX.length);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    throw new SyntaxError(`pgAudit record is not CSV: ${e.message}`);
  }
  if (f.length !== 9 && f.length !== 10) {
    throw new SyntaxError(`pgAudit record has ${f.length} fields, expected 9 or 10`);
  }
  const [type, sid, ssid, cls, command, objectType, object, statement, params, rows] = f;
  if (!TYPES.has(type!)) {
    throw new SyntaxError(`unknown pgAudit audit type ${JSON.stringify(type)}`);
  }
  if (!ID_RE.test(sid!) || !ID_RE.test(ssid!)) {
    throw new SyntaxError(
      `pgAudit statement ids ${JSON.stringify(`${sid},${ssid}`)} are not numbers`,
    );
  }
  if (!CLASS_RE.test(cls!)) throw new SyntaxError(`unknown pgAudit class ${JSON.stringify(cls)}`);
  if (rows !== undefined && !ID_RE.test(rows)) {
    throw new SyntaxError(`pgAudit row count ${JSON.stringify(rows)} is not a number`);
  }
  const entry: AuditEntry = {
    auditType: type!,
    statementId: Number(sid),
    substatementId: Number(ssid),
    class: cls!,
    command: command!,
  };
  if (objectType) entry.objectType = objectType;
  if (object) entry.object = object;
  if (statement !== NOT_LOGGED && statement !== PREVIOUSLY_LOGGED) entry.statement = statement!;
  const p = parseParams(params!);
  if (p !== undefined) entry.params = p;
  if (rows !== undefined) entry.rows = Number(rows);
  return entry;
}

/** The parameter field: `<none>`, `<not logged>`, `<previously logged>` or their CSV. */
export function parseParams(field: string): (string | null)[] | undefined {
  if (field === "<none>") return [];
  if (field === NOT_LOGGED || field === PREVIOUSLY_LOGGED) return undefined;
  try {
    return splitCsv(field).map((v) => v === "" ? null : v);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    throw new SyntaxError(`pgAudit parameters are not CSV: ${e.message}`);
  }
}

/**
 * Schema of a qualified name as pgAudit prints it (`public.t`, `"My Schema"."T"`), unquoted;
 * undefined for a name without a schema.
 */
export function schemaOf(object: string): string | undefined {
  if (object.startsWith('"')) {
    let i = 1;
    let name = "";
    for (;;) {
      const q = object.indexOf('"', i);
      if (q === -1) return undefined;
      if (object[q + 1] === '"') {
        name += object.slice(i, q + 1);
        i = q + 2;
        continue;
      }
      name += object.slice(i, q);
      return object[q + 1] === "." ? name : undefined;
    }
  }
  const dot = object.indexOf(".");
  return dot > 0 ? object.slice(0, dot) : undefined;
}
