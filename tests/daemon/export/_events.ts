/**
 * Events that exercise every column of the event schema: awkward text, escapes, nulls, nested
 * JSON, extreme integers, repeating low-cardinality values. Shared by the tests of the column
 * builders and of the IPC writer; a mixed run of them, and a file's metadata, for the tests of
 * the Parquet writers.
 */

import { canonicalEvent } from "../../../daemon/event/canonical.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import type { ParquetFileMeta } from "../../../daemon/export/parquet_meta.ts";
import { testEvent } from "../../support/store.ts";

const T0 = 1_714_550_400_123_456;

/**
 * `n` events from seq `from`, every seventh with nulls, lists and JSON, so that every kind of
 * column crosses to an encoder Worker.
 */
export function mixedEvents(n: number, from = 0): AuditEvent[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const e = canonicalEvent(testEvent(i), i, T0 + i);
    if (i % 7 !== 0) return e;
    const { db: _db, ...rest } = e;
    return { ...rest, params: [String(i), null], context: { user: `u${i % 13}` } };
  });
}

/** What a file of `evs` says of itself, its Merkle leaves up to `leaves` (a checkpoint's size). */
export function fileMetaFor(evs: AuditEvent[], leaves: number): ParquetFileMeta {
  return {
    firstSeq: evs[0]!.seq,
    lastSeq: evs[evs.length - 1]!.seq,
    rows: evs.length,
    leaves: { from: 0, to: leaves },
    chainBefore: "00".repeat(32),
    chainAfter: "11".repeat(32),
    checkpoint: {
      v: 1,
      size: leaves,
      root: "ab".repeat(32),
      chain: "cd".repeat(32),
      ts: T0,
      key_id: "0123456789abcdef",
      sig: "c2ln",
    },
  };
}

export function ev(i: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  return canonicalEvent({ ...testEvent(i), ...extra }, i, 1_714_550_400_000_000 + i);
}

export function awkward(): AuditEvent[] {
  return [
    ev(0),
    ev(1, { statement: "", params: [], context: {}, db: "", redacted: false }),
    ev(2, { statement: "SELECT '🦀', 'ü', '中文', e'\\n'", params: [null, "", "x", null] }),
    ev(3, {
      kind: "row_change",
      old_row: JSON.parse('{"b":"1","a":null,"10":"ten","2":"two","__proto__":"p"}'),
      new_row: { nested: { list: [1, 2.5, -0, 1e21, 5e-324, true, null, "s"] }, "🦀": "\u2028" },
      context: { who: 'a "quote"\\', why: ["ticket", 12], deep: { a: { b: { c: {} } } } },
    }),
    ev(4, {
      ts: Number.MAX_SAFE_INTEGER,
      ingest_ts: Number.MIN_SAFE_INTEGER,
      pid: Number.MAX_SAFE_INTEGER,
      xid: 0,
      statement_id: 2 ** 32,
      substatement_id: 2 ** 32 - 1,
    }),
    ev(5, { ts: -1, ingest_ts: 0, redacted: true, raw: "\u0000nul\u0000", parse_error: "bad" }),
    ev(6, {
      kind: "session",
      source: 'src "with" \\ escapes\n',
      source_pos: "0/16B3748:3",
      db: "shop",
      schema: "public",
      object: "orders\t\u0001",
      object_type: "TABLE",
      role: "ädä",
      app_user: "lone \ud800 surrogate",
      client_addr: "::1",
      application_name: "psql",
      session_id: "66321c9e.1a2b",
      class: "READ",
      command: "SELECT",
      audit_type: "SESSION",
      sqlstate: "42501",
      error: "permission denied for table orders",
      token: 'tok "q" \\ ü',
    }),
    ev(7, { params: ['a"b', "\\", "🦀"], role: "ädä", db: "shop" }),
    ev(8, { context: { "": [], "a\u0000": "\u001f", "\\": "\\u0041" }, redacted: false }),
  ];
}

/** Many events, the low-cardinality columns repeating: the dictionaries' ids matter. */
export function many(n: number): AuditEvent[] {
  const all = awkward();
  return Array.from({ length: n }, (_, i) => ({ ...all[i % all.length]!, seq: i }));
}
