/**
 * A batch's columns taken a run at a time (`ColumnBuilder.begin`, as the index's Worker reads a
 * batch in pieces) are those of the whole batch in one run, strings' codes and full-text rows
 * included, when the runs end at span blocks; a batch given more room than it gets is cut to
 * what it got.
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { ColumnBuilder, NAME_COLUMNS } from "../../../daemon/index/index_columns.ts";
import { TEXT_SPAN } from "../../../daemon/index/text_spans.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";
import { testEvent } from "../../support/store.ts";

function recordsFrom(first: number, n: number): { seq: number; event: AuditEvent }[] {
  return Array.from({ length: n }, (_, k) => {
    const seq = first + k;
    const event = { ...testEvent(seq), seq } as AuditEvent;
    if (seq % 5 === 0) event.role = `role${seq}`; // a string new to the batch, mid-run
    if (seq % 9 === 0) delete event.db;
    return event;
  }).map((event) => ({ seq: event.seq, event }));
}

Deno.test("ColumnBuilder: a batch taken in runs cut at span blocks gives the columns of one run", () => {
  const batches = [recordsFrom(3, 300), recordsFrom(303, 500)];
  const whole = new ColumnBuilder();
  const inRuns = new ColumnBuilder();
  for (const records of batches) {
    const want = whole.begin(records.length);
    want.add(records);
    const batch = inRuns.begin(records.length);
    // Runs end at seqs that are multiples of TEXT_SPAN; the batch starts partway into a block,
    // as a range may.
    const aligned = (TEXT_SPAN - records[0]!.seq % TEXT_SPAN) % TEXT_SPAN;
    let at = 0;
    for (const end of [aligned, aligned + 4 * TEXT_SPAN, aligned + 5 * TEXT_SPAN, records.length]) {
      batch.add(records.slice(at, end));
      at = end;
    }
    assertEquals(batch.count, records.length);
    const got = batch.finish();
    assertEquals(got.cols, want.finish().cols);
    assertEquals(got.transfer.length, 4);
  }
});

Deno.test("ColumnBuilder: a batch with room to spare is cut to its events; past its room it throws", () => {
  const records = recordsFrom(16, 40);
  const one = new ColumnBuilder().begin(records.length);
  one.add(records);
  const want = one.finish().cols;
  const batch = new ColumnBuilder().begin(64);
  batch.add(records.slice(0, 16));
  batch.add(records.slice(16));
  const { cols, transfer } = batch.finish();
  assertEquals(cols, want);
  assertEquals(cols.names.length, 40 * NAME_COLUMNS.length);
  assertEquals(transfer, [cols.seqs.buffer, cols.ts.buffer, cols.rows.buffer, cols.names.buffer]);
  const full = new ColumnBuilder().begin(8);
  assertThrows(() => full.add(recordsFrom(0, 9)), {
    instanceOf: RangeError,
    message: "holds fewer",
  });
});
