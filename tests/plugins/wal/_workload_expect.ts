/**
 * What the events of the workload in `_workload.ts` must be, beyond the replay against the
 * tables (`_replay.ts`): the cases an auditor reads one by one — unchanged TOAST, key-only and
 * full old rows, the context of a transaction, DDL and heartbeat messages, a TRUNCATE of two
 * tables, quoted names — and the xid, commit time and position of every event.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import { validateEvent } from "../../../daemon/event/validate.ts";
import { formatLsn } from "../../../plugins/wal/lsn.ts";
import { parseSourcePos } from "../../../plugins/wal/position.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { checkAgainstSnapshots } from "./_replay.ts";
import type { Assembled } from "./_replay.ts";
import type { ChangeRow, WorkloadRecord } from "./_workload.ts";

const MARKER = { unchanged_toast: true };
const CONTEXT = { user: "ada", reason: "refund" };

/** Checks the assembled events of one run of the workload against its record. */
export function checkWorkload(run: Assembled, rows: ChangeRow[], record: WorkloadRecord): void {
  const { events } = run;
  for (const ev of events) {
    // What the store would be handed: valid as it is, and unchanged by validation.
    assertEquals(validateEvent(ev, { source: ev.source, ingestTs: 0 }), ev, `${ev.source_pos}`);
  }
  checkAgainstSnapshots(events, record.snapshots);
  checkPlaces(run, rows, record);

  const rowChanges = events.filter((e) => e.kind === "row_change");
  const find = (pred: (e: NewEvent) => boolean, what: string): NewEvent => {
    const found = events.filter(pred);
    assertEquals(found.length, 1, `events that are ${what}`);
    return found[0]!;
  };
  const kinds = (command: string, id: string) => (e: NewEvent) =>
    e.object === "public.kinds" && e.command === command &&
    (e.new_row?.id ?? e.old_row?.id) === id;

  // Exact text, straight from the first INSERT (the replay compares every column too).
  const first = find(kinds("INSERT", "1"), "the insert of kinds 1").new_row!;
  assertEquals(first.i8, "9223372036854775807");
  assertEquals(first.n, "1234567890123456789012345678.1234567890");
  assertEquals(first.ts, "2024-02-29 23:59:59.999999+00");
  assertEquals(first.b, "\\x00ff10");
  assertEquals(first.j, '{"b":1,  "a":[1, 2.50]}');
  const bom = find(kinds("INSERT", "4"), "the insert of kinds 4").new_row!;
  assertEquals(bom.t, "\uFEFFstarts with a BOM");

  const toastUpdates = rowChanges.filter((e) => e.command === "UPDATE" && e.new_row?.id === "3");
  assertEquals(toastUpdates.map((e) => e.new_row!.big === undefined), [false, false, false]);
  assertEquals(toastUpdates[0]!.new_row!.big, MARKER, "an update that leaves big alone");
  assertEquals(typeof toastUpdates[1]!.new_row!.big, "string", "an update of big itself");
  assertEquals(toastUpdates[2]!.new_row!.big, MARKER, "after a column was added");
  assertEquals(toastUpdates[0]!.old_row, undefined, "no old row without a key change");

  const rekey = find(kinds("UPDATE", "20"), "the key change");
  assertEquals(rekey.old_row, { id: "2" }, "a key-only old row holds the key alone");
  assertEquals(find(kinds("DELETE", "1"), "the delete of kinds 1").old_row, { id: "1" });

  const full = find((e) => e.object === "public.full_t" && e.command === "UPDATE", "full");
  assertEquals(Object.keys(full.old_row!), ["id", "note", "big"]);
  assertEquals((full.old_row!.big as string).length, 300 * 32, "the old TOASTed value, whole");
  assertEquals(full.new_row, { id: "1", note: "a2", big: MARKER });

  // The context reaches the change before it and the one after it.
  const ctxEvent = find((e) => e.command === "vigil.context", "the context message");
  const txn = events.filter((e) => e.xid === ctxEvent.xid);
  assertEquals(txn.map((e) => [e.kind, e.command, e.context, e.app_user]), [
    ["row_change", "INSERT", CONTEXT, "ada"],
    ["message", "vigil.context", CONTEXT, "ada"],
    ["row_change", "UPDATE", CONTEXT, "ada"],
  ]);
  assertEquals(events.filter((e) => e.context !== undefined).length, 3, "context elsewhere");

  const ddl = find((e) => e.kind === "ddl", "the DDL message");
  assertEquals(
    [ddl.command, ddl.object, ddl.object_type, ddl.schema, ddl.role, ddl.statement],
    [
      "CREATE TABLE",
      "public.ddl_t",
      "TABLE",
      "public",
      "postgres",
      "CREATE TABLE ddl_t (id int PRIMARY KEY);",
    ],
  );

  const beat = find((e) => e.command === "vigil.heartbeat", "the heartbeat");
  assertEquals([beat.kind, beat.raw, beat.xid], ["message", '{"seq":1}', undefined]);
  assertMatch(beat.source_pos!, /^[0-9A-F]+\/[0-9A-F]+$/);
  const note = find((e) => e.command === "vigil.note", "the binary note");
  assertEquals(note.raw, "\\xff00");
  assertMatch(note.parse_error!, /not UTF-8/);
  assertEquals(run.assembler.passedOver, 1, "the message of another application");

  const sales = find((e) => e.schema === "Sales", "the insert into Sales");
  assertEquals(sales.object, '"Sales"."Order Lines"');
  assert(Object.hasOwn(sales.new_row!, "__proto__"), "a column named __proto__ is a column");
  assertEquals(
    JSON.stringify(sales.new_row),
    '{"1":"1","id":"1","__proto__":"proto","Mixed Case":"mixed","user":"u"}',
  );

  const truncates = rowChanges.filter((e) => e.command === "TRUNCATE");
  assertEquals(truncates.map((e) => e.object), ["public.trunc_a", "public.trunc_b"]);
  assertEquals(new Set(truncates.map((e) => e.xid)).size, 1, "one statement, one transaction");
  assert(!rowChanges.some((e) => e.new_row?.id === "99"), "a rolled back insert is not sent");
}

/** xid, commit time and `source_pos` of every event; the ack LSN of the last batch. */
function checkPlaces(run: Assembled, rows: ChangeRow[], record: WorkloadRecord): void {
  const xidOfCommit = new Map<string, number>();
  const ends = new Map<string, bigint>();
  for (const row of rows) {
    if (!row.hex.startsWith("43")) continue; // 'C'
    const commitLsn = BigInt(`0x${row.hex.slice(4, 20)}`);
    xidOfCommit.set(formatLsn(commitLsn), row.xid);
    ends.set(formatLsn(commitLsn), BigInt(`0x${row.hex.slice(20, 36)}`));
  }
  let last = { lsn: -1n, index: -1 };
  for (const ev of run.events) {
    if (ev.xid === undefined) continue;
    assertMatch(ev.source_pos!, /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}#\d{10}$/);
    const place = parseSourcePos(ev.source_pos!);
    const commit = formatLsn(place.commitLsn);
    assertEquals(ev.xid, xidOfCommit.get(commit), `xid of ${ev.source_pos}`);
    assertEquals(ev.ts, record.commitTimes[String(ev.xid)], `commit time of ${ev.source_pos}`);
    const expectIndex = place.commitLsn === last.lsn ? last.index + 1 : 0;
    assertEquals(place.index, expectIndex, `index of ${ev.source_pos}`);
    assert(place.commitLsn >= last.lsn, `${ev.source_pos} comes after a later commit`);
    last = { lsn: place.commitLsn, index: place.index };
  }
  const lastBatch = run.batches.at(-1)!;
  assertEquals(lastBatch.ackLsn, [...ends.values()].at(-1), "the ack LSN after the last commit");
  assertEquals(lastBatch.position, formatLsn(lastBatch.ackLsn), "nothing partial, no message");
}
