/**
 * Hand-built log records for unit tests, written the way PostgreSQL 15 writes them: csvlog
 * rows with `appendCSVLiteral` quoting, jsonlog objects with absent keys for empty values, and
 * stderr entries with the harness's prefix and a TAB after every newline. Real server output
 * is in the fixtures; these cover shapes a test wants to choose.
 */

/** What a built record says; the rest is filled in. */
export interface Built {
  time?: string | undefined;
  user?: string | undefined;
  db?: string | undefined;
  pid?: number | undefined;
  host?: string | undefined;
  port?: number | undefined;
  session?: string | undefined;
  line?: number | undefined;
  tag?: string | undefined;
  xid?: number | undefined;
  severity?: string | undefined;
  sqlstate?: string | undefined;
  message: string;
  detail?: string | undefined;
  statement?: string | undefined;
  app?: string | undefined;
}

const enc = new TextEncoder();

export function bytes(text: string): Uint8Array {
  return enc.encode(text);
}

function lit(v: string | undefined): string {
  return v === undefined ? "" : `"${v.replaceAll('"', '""')}"`;
}

/** One csvlog row with its newline. */
export function csvRow(b: Built): string {
  const from = b.host === undefined || b.host === "[local]"
    ? b.host
    : `${b.host}:${b.port ?? 5432}`;
  return [
    b.time ?? "2026-11-23 18:00:00.123 UTC",
    lit(b.user ?? "ada"),
    lit(b.db ?? "shop"),
    String(b.pid ?? 4242),
    lit(from),
    b.session ?? "6b048ec8.78d7",
    String(b.line ?? 7),
    lit(b.tag ?? "SELECT"),
    "2026-11-23 17:59:00 UTC",
    "3/14",
    String(b.xid ?? 0),
    b.severity ?? "LOG",
    b.sqlstate ?? "00000",
    lit(b.message),
    lit(b.detail),
    "",
    "",
    "",
    "",
    lit(b.statement),
    "",
    "",
    lit(b.app ?? "psql"),
    lit("client backend"),
    "",
    "0",
  ].join(",") + "\n";
}

/** One jsonlog line with its newline. */
export function jsonLine(b: Built): string {
  const o: Record<string, unknown> = {
    timestamp: b.time ?? "2026-11-23 18:00:00.123 UTC",
    user: b.user ?? "ada",
    dbname: b.db ?? "shop",
    pid: b.pid ?? 4242,
    remote_host: b.host,
    remote_port: b.host === undefined ? undefined : b.port ?? 5432,
    session_id: b.session ?? "6b048ec8.78d7",
    line_num: b.line ?? 7,
    ps: b.tag ?? "SELECT",
    vxid: "3/14",
    txid: b.xid ?? 0,
    error_severity: b.severity ?? "LOG",
    state_code: b.sqlstate,
    message: b.message,
    detail: b.detail,
    statement: b.statement,
    application_name: b.app ?? "psql",
    backend_type: "client backend",
    query_id: 0,
  };
  return JSON.stringify(o) + "\n";
}

/** The harness's prefix, which the stderr builder writes. */
export const BUILD_PREFIX = "%m [%p] %q%c:%l user=%u,db=%d,app=%a,client=%h ";

/** One stderr entry: the message line and its DETAIL/STATEMENT lines, TAB-continued. */
export function stderrEntry(b: Built): string {
  const prefix = `${b.time ?? "2026-11-23 18:00:00.123 UTC"} [${b.pid ?? 4242}] ` +
    `${b.session ?? "6b048ec8.78d7"}:${b.line ?? 7} user=${b.user ?? "ada"},db=${
      b.db ?? "shop"
    },app=${b.app ?? "psql"},client=${b.host ?? "[local]"} `;
  const tabs = (s: string): string => s.replaceAll("\n", "\n\t");
  let out = `${prefix}${b.severity ?? "LOG"}:  ${tabs(b.message)}\n`;
  if (b.detail !== undefined) out += `${prefix}DETAIL:  ${tabs(b.detail)}\n`;
  if (b.statement !== undefined) out += `${prefix}STATEMENT:  ${tabs(b.statement)}\n`;
  return out;
}

/** pgAudit's `append_valid_csv`: quoted only when it has to be. */
export function auditField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

/** A pgAudit message for `statement` with parameters (undefined: `<none>`). */
export function auditMessage(statement: string, params?: (string | null)[]): string {
  const p = params === undefined
    ? "<none>"
    : auditField(params.map((v) => v === null ? "" : auditField(v)).join(","));
  return `AUDIT: SESSION,1,1,READ,SELECT,,,${auditField(statement)},${p}`;
}
