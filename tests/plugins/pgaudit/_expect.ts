/**
 * Shared by the pgAudit parser tests: decode log bytes in any of the three formats (in given
 * chunks), map the records to events, and check the events against what the workload's steps
 * say the log must show — for recorded fixtures and for a live server alike.
 */

import { CsvLogDecoder, csvLogRecord, type CsvRecord } from "../../../plugins/pgaudit/csvlog.ts";
import { type LogEvent, logEvent } from "../../../plugins/pgaudit/events.ts";
import {
  JsonLogDecoder,
  jsonLogRecord,
  type JsonRecord,
} from "../../../plugins/pgaudit/jsonlog.ts";
import type { LogRecord, RecordSpan } from "../../../plugins/pgaudit/record.ts";
import { StderrLogDecoder } from "../../../plugins/pgaudit/stderr.ts";
import { assert, assertEquals, equal } from "../../support/assert.ts";
import type { NewEvent } from "../../../daemon/event/model.ts";
import { APP, type Session } from "./_workload.ts";

export type Format = "csvlog" | "jsonlog" | "stderr";
export const FORMATS: readonly Format[] = ["csvlog", "jsonlog", "stderr"];

/** The harness's `log_line_prefix` (also in the fixtures' workload.json). */
export const PREFIX = "%m [%p] %q%c:%l user=%u,db=%d,app=%a,client=%h ";

/** What a decoder emits, whatever the format. */
export type AnyRecord = CsvRecord | JsonRecord | LogRecord;

/** A decoder of any format behind one face. */
export interface Decoder {
  push(chunk: Uint8Array, emit: (r: AnyRecord) => void): void;
  end(emit: (r: AnyRecord) => void): void;
}

export function decoder(format: Format, prefix = PREFIX): Decoder {
  if (format === "csvlog") return new CsvLogDecoder();
  if (format === "jsonlog") return new JsonLogDecoder();
  return new StderrLogDecoder({ logLinePrefix: prefix });
}

/** Decodes `chunks` in order, then ends the input. */
export function decodeChunks(format: Format, chunks: Uint8Array[], prefix = PREFIX): AnyRecord[] {
  const out: AnyRecord[] = [];
  const d = decoder(format, prefix);
  for (const c of chunks) d.push(c, (r) => out.push(r));
  d.end((r) => out.push(r));
  return out;
}

/** A decoder's record by name. */
export function named(format: Format, r: AnyRecord): LogRecord {
  if (format === "csvlog") return csvLogRecord(r as CsvRecord);
  if (format === "jsonlog") return jsonLogRecord(r as JsonRecord);
  return r as LogRecord;
}

/** Events of all records, in order. */
export function eventsOf(format: Format, records: AnyRecord[]): LogEvent[] {
  const out: LogEvent[] = [];
  for (const r of records) {
    const e = logEvent(named(format, r), { source: "test", clock: () => 0 });
    if (e !== undefined) out.push(e);
  }
  return out;
}

/** Fails unless the records' byte ranges cover `[0, size)` in order, without gap or overlap. */
export function assertTiles(records: RecordSpan[], size: number, what: string): void {
  let at = 0;
  for (const [i, r] of records.entries()) {
    if (r.start !== at || r.offset <= r.start) {
      throw new Error(`${what}: record ${i} covers [${r.start}, ${r.offset}), expected ${at}…`);
    }
    at = r.offset;
  }
  assertEquals(at, size, `${what}: the records end at ${at}, the input at ${size}`);
}

/** Checks the events of the workload's log against what its steps say. */
export function checkWorkload(format: Format, events: LogEvent[], sessions: Session[]): void {
  const all = events.map((e) => e.event);
  const broken = all.filter((e) => e.parse_error !== undefined).map((e) => e.parse_error);
  assertEquals(broken, [], `${format}: records that could not be read`);
  const mine = all.filter((e) => e.application_name === APP);
  const audits = mine.filter((e) => e.audit_type !== undefined);
  let at = 0;
  for (const step of sessions.flatMap((s) => s.steps)) {
    for (const want of step.audits) {
      const i = audits.findIndex((e, k) =>
        k >= at && e.statement === want.statement &&
        (want.params === undefined || equal(e.params, want.params)) &&
        (want.auditType === undefined || e.audit_type === want.auditType)
      );
      assert(i >= 0, `${format}: no AUDIT event for ${JSON.stringify(want)} after ${at}`);
      const e = audits[i]!;
      if (want.object !== undefined) assertEquals(e.object, want.object);
      if (want.reduced !== undefined) {
        assertEquals(e.kind, "system", `${format}: ${want.statement}`);
        assertEquals(e.context?.audit_reduced, want.reduced, `${format}: ${want.statement}`);
      } else {
        assertEquals(e.kind, e.audit_type === "OBJECT" ? "object" : "session");
      }
      checkSessionFields(format, e);
      at = i + 1;
    }
    if (step.audits.length === 0) {
      assert(!audits.some((e) => e.statement === step.sql), `${format}: audited: ${step.sql}`);
    }
    if (step.error !== undefined) {
      const e = mine.find((e) => e.error !== undefined && e.statement === step.sql);
      assert(e !== undefined, `${format}: no error event for ${step.sql}`);
      assertEquals(e.kind, "session");
      // The harness's stderr prefix has no %e: the SQLSTATE is in csvlog and jsonlog only.
      if (format !== "stderr") assertEquals(e.sqlstate, step.error, `${format}: ${step.sql}`);
    }
  }
  for (const s of sessions.filter((s) => s.loginFails !== undefined)) {
    const e = all.find((e) =>
      e.kind === "auth" && e.sqlstate === s.loginFails && e.role === s.user?.name
    );
    assert(e !== undefined, `${format}: no failed login of ${s.user?.name}`);
    assertEquals(e.command, "CONNECT");
    assert(e.error?.startsWith("password authentication failed"), `${format}: ${e.error}`);
  }
  const sessionsIn = sessions.filter((s) => s.loginFails === undefined).length;
  const byCommand = (c: string): NewEvent[] =>
    all.filter((e) => e.kind === "auth" && e.command === c && e.sqlstate === undefined);
  assertEquals(
    byCommand("DISCONNECT").filter((e) => e.application_name === APP).length,
    sessionsIn,
  );
  assert(byCommand("CONNECT").length >= sessionsIn, `${format}: too few CONNECT events`);
  assert(audits.some((e) => e.role === "alice"), `${format}: nothing audited for alice`);
  const reload = all.find((e) => e.command === "RELOAD" && e.object === "pgaudit.log");
  assertEquals(reload?.kind, "system");
  assertEquals(reload?.context, { setting: "pgaudit.log", value: "none", audit_reduced: true });
}

function checkSessionFields(format: Format, e: NewEvent): void {
  for (const key of ["role", "db", "client_addr", "session_id", "pid"] as const) {
    assert(e[key] !== undefined, `${format}: ${key} missing in ${JSON.stringify(e)}`);
  }
  assert(Number.isSafeInteger(e.ts) && e.ts > 1.6e15, `${format}: ts ${e.ts}`);
}

/**
 * What every format says alike about an event: stderr lacks SQLSTATE, xid and command tags, and
 * the harness's prefix stops (`%q`) before the session id of processes without a session.
 */
export function comparable(e: LogEvent): Record<string, unknown> {
  const v = e.event;
  return {
    ts: v.ts,
    kind: v.kind,
    role: v.role,
    db: v.db,
    pid: v.pid,
    session_id: v.role === undefined ? undefined : v.session_id,
    client_addr: v.client_addr,
    application_name: v.application_name,
    audit_type: v.audit_type,
    statement_id: v.statement_id,
    substatement_id: v.substatement_id,
    class: v.class,
    object: v.object,
    object_type: v.object_type,
    statement: v.statement,
    params: v.params,
    context: v.context,
  };
}

/**
 * Fails unless two formats' events agree, naming the first that differs. Compared as sets:
 * the server writes each format's lines separately, so lines of two processes written at the
 * same moment (a reload and a disconnection) can come in either order from one file to another.
 */
export function assertSameEvents(
  unsortedA: Record<string, unknown>[],
  unsortedB: Record<string, unknown>[],
  what: string,
): void {
  const sorted = (v: Record<string, unknown>[]): Record<string, unknown>[] =>
    v.map((e) => [JSON.stringify(e), e] as const).sort(([x], [y]) => x < y ? -1 : x > y ? 1 : 0)
      .map(([, e]) => e);
  const a = sorted(unsortedA);
  const b = sorted(unsortedB);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    assertEquals(b[i], a[i], `${what}: event ${i} of ${a.length} and ${b.length}`);
  }
}
