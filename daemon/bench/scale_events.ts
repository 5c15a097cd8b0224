/**
 * The event mix of `vigil bench scale`: what a busy watched database produces, deterministic
 * from the event number so that a run can be repeated and compared. Per 100 events: 55 WAL row
 * changes with row images (mostly UPDATEs of accounts and payments, some INSERTs into a ledger,
 * a few DELETEs), 36 pgAudit statements (reads and writes, with bind parameters), 6 logins and
 * sessions ending, 1 failed login, 1 DDL as both channels record it (the WAL's event trigger,
 * then pgAudit's line of the same text, so the coverage join pairs them as it does a real
 * database's). 48 roles, 4 databases, 40 client addresses, three applications, and event time
 * spread evenly over `spanDays` (default 120, about four months).
 */

import type { NewEvent } from "../event/model.ts";

const ROLES = Array.from(
  { length: 48 },
  (_, i) =>
    i < 6 ? ["app_billing", "etl", "postgres", "reporting", "app_hr", "backup"][i]! : `user${i}`,
);
const DBS = ["billing", "hr", "crm", "ledger"];
const TABLES = [
  "public.accounts",
  "public.payments",
  "public.invoices",
  "public.customers",
  "hr.salaries",
  "public.ledger",
];
const APPS = ["billing-api", "psql", "etl-runner"];
const DAY_US = 86_400_000_000;
/** 2026-01-01T00:00:00Z in µs. */
const T0 = 1_767_225_600_000_000;

/** Event `i` of `n`, spread over `spanDays` of event time. */
export function scaleEvent(i: number, n: number, spanDays = 120): NewEvent {
  const ts = T0 + Math.floor(i * (spanDays * DAY_US / Math.max(1, n)));
  const role = ROLES[(i * 7 + (i >> 10)) % ROLES.length]!;
  const db = DBS[(i >> 3) % DBS.length]!;
  const addr = `10.20.${(i >> 5) % 4}.${10 + (i % 40)}`;
  const app = APPS[i % APPS.length]!;
  const k = i % 100;
  const id = (i * 2654435761) % 1_000_000;
  if (k < 55) {
    const table = TABLES[k % 3 === 0 ? 5 : k % 2]!;
    const command = k < 45 ? "UPDATE" : k < 53 ? "INSERT" : "DELETE";
    const oldRow = { id: String(id), balance: String((i * 37) % 100_000), status: "open" };
    const newRow = { id: String(id), balance: String((i * 41) % 100_000), status: "settled" };
    return {
      ts,
      source: `${db}-wal`,
      source_pos: `${(i >> 12).toString(16).toUpperCase()}/${(i * 120).toString(16)}#${k}`,
      kind: "row_change",
      db,
      object: table,
      command,
      xid: 1_000_000 + (i >> 2),
      ...(command === "INSERT" ? {} : { old_row: oldRow }),
      ...(command === "DELETE" ? {} : { new_row: newRow }),
      ...(k % 9 === 0 ? { context: { user: `u${i % 311}`, reason: `ticket #${i % 9000}` } } : {}),
    };
  }
  const session = {
    ts,
    source: `${db}-log`,
    source_pos: `f${(i >> 16).toString(16)}:${i * 210}`,
    db,
    role,
    client_addr: addr,
    application_name: app,
    session_id: `6630${(i >> 6).toString(16)}.${(i % 977).toString(16)}`,
    pid: 10_000 + ((i >> 6) % 5000),
  };
  if (k < 91) {
    const table = TABLES[(i >> 2) % TABLES.length]!;
    const write = k % 4 === 0;
    return {
      ...session,
      kind: "object",
      class: write ? "WRITE" : "READ",
      command: write ? "UPDATE" : "SELECT",
      audit_type: "SESSION",
      statement_id: i >> 3,
      substatement_id: 1,
      object: table,
      object_type: "TABLE",
      statement: write
        ? `UPDATE ${table} SET status = $1, updated_at = now() WHERE id = $2`
        : `SELECT id, balance, status, updated_at FROM ${table} WHERE id = $1`,
      params: write ? ["settled", String(id)] : [String(id)],
    };
  }
  if (k < 97) {
    return {
      ...session,
      kind: "auth",
      command: k % 2 === 0 ? "LOGIN" : "DISCONNECT",
    };
  }
  if (k === 98) {
    // The WAL's record of the DDL that pgAudit logs as event i + 1.
    const twin = i + 1;
    const twinDb = DBS[(twin >> 3) % DBS.length]!;
    return {
      ts,
      source: `${twinDb}-wal`,
      source_pos: `${(i >> 12).toString(16).toUpperCase()}/${(i * 120).toString(16)}#${k}`,
      kind: "ddl",
      db: twinDb,
      role: ROLES[(twin * 7 + (twin >> 10)) % ROLES.length]!,
      command: "ALTER TABLE",
      object: TABLES[twin % TABLES.length]!,
      xid: 1_000_000 + (i >> 2),
      statement: ddlText(twin),
    };
  }
  if (k < 98) {
    return {
      ...session,
      kind: "auth",
      command: "LOGIN_FAILED",
      sqlstate: "28P01",
      error: `password authentication failed for user "${role}"`,
    };
  }
  return {
    ...session,
    kind: "session",
    audit_type: "SESSION",
    class: "DDL",
    command: "ALTER TABLE",
    statement_id: i >> 3,
    substatement_id: 1,
    object: TABLES[i % TABLES.length]!,
    object_type: "TABLE",
    statement: ddlText(i),
  };
}

function ddlText(i: number): string {
  return `ALTER TABLE ${TABLES[i % TABLES.length]} ADD COLUMN note_${i % 97} text`;
}

/** Most events in the range that the bench exports and downloads. */
const EXPORT_MAX_ROWS = 1_000_000;

/** Events in the range the bench exports from a store of `n`. */
export function exportRows(n: number): number {
  return Math.min(Math.floor(n * 0.1), EXPORT_MAX_ROWS);
}

/**
 * The event-time range that the bench exports (`vigil export`) and downloads (the Management
 * page's bundle): `rows` events from the middle of event time — by default a tenth of `n`, at
 * most {@link EXPORT_MAX_ROWS} — as µs since the epoch, `to` exclusive.
 */
export function exportRange(n: number, rows = exportRows(n)): { from: number; to: number } {
  const first45 = Math.floor(n * 0.45);
  return { from: scaleEvent(first45, n).ts, to: scaleEvent(first45 + rows, n).ts };
}
