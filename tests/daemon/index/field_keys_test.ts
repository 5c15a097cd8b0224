/**
 * Keys of attributed fields (`daemon/index/field_keys.ts`): the `fields` rows of a batch are put
 * in primary-key order before they are inserted, every row kept as it was.
 */

import assert from "node:assert/strict";
import { ATTRIBUTED_FIELDS } from "../../../daemon/index/filter.ts";
import {
  eventFieldKeys,
  fieldBlock,
  fieldKey,
  fieldOffset,
  sortedFields,
} from "../../../daemon/index/field_keys.ts";
import { event } from "./_events.ts";

Deno.test("sortedFields() orders rows by block, key and offset, each row kept", () => {
  const rows: number[][] = [];
  let seed = 11;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let i = 0; i < 5000; i++) {
    const seq = 2 ** 40 - rnd(300_000);
    const name = ATTRIBUTED_FIELDS[rnd(ATTRIBUTED_FIELDS.length)]!;
    rows.push([fieldBlock(seq), fieldKey(name, `v${rnd(50)}`), fieldOffset(seq)]);
  }
  rows.push([0, 0, 0], [0, fieldKey("sqlstate", "x"), 65_535], rows[0]!);
  const want = rows.map((r) => [...r]).sort((a, b) =>
    a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!
  );
  const got = sortedFields(rows.flat());
  const triples = [];
  for (let i = 0; i < got.length; i += 3) triples.push(got.slice(i, i + 3));
  assert.deepEqual(triples, want);
  assert.deepEqual(sortedFields([]), []);
});

Deno.test("eventFieldKeys() gives the key of each attributed field the event has", () => {
  const ev = event(3, { session_id: "a.1", xid: 9, client_addr: "10.0.0.1" });
  assert.deepEqual(eventFieldKeys(ev), [
    fieldKey("client_addr", "10.0.0.1"),
    fieldKey("session_id", "a.1"),
    fieldKey("xid", "9"),
  ]);
  assert.deepEqual(eventFieldKeys(event(4)), []);
});
