/**
 * Checks decoded WAL events against what PostgreSQL itself says: replays the row changes onto
 * a model of the tables and compares it, at every snapshot of the workload, with the tables as
 * `col::text`. Along the way every old row an UPDATE or DELETE carries must equal the model's
 * row (all columns with REPLICA IDENTITY FULL, the key otherwise), and every unchanged-TOAST
 * marker must stand for a value the model holds. Shared by the live test and the fixture test.
 */

import type { JsonObject, JsonValue, NewEvent } from "../../../daemon/event/model.ts";
import { ChangeAssembler, type ChangeBatch } from "../../../plugins/wal/changes.ts";
import { parseLsn } from "../../../plugins/wal/lsn.ts";
import { decodePayload } from "../../../plugins/wal/pgoutput.ts";
import { parseSourcePos } from "../../../plugins/wal/position.ts";
import { isUnchangedToast } from "../../../plugins/wal/rows.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { type ChangeRow, hexBytes, type Snapshot } from "./_workload.ts";

type Row = Map<string, JsonValue>;

/** What feeding rows through a fresh assembler gave. */
export interface Assembled {
  events: NewEvent[];
  batches: ChangeBatch[];
  assembler: ChangeAssembler;
}

/** Decodes `rows` and feeds them to a new assembler, taking a batch after every row. */
export function assemble(
  rows: readonly ChangeRow[],
  opts: { holdLimit?: number; resume?: string; now?: () => number } = {},
): Assembled {
  const assembler = new ChangeAssembler({
    source: "wal",
    db: "postgres",
    storeHeartbeats: true,
    ...opts,
  });
  const batches: ChangeBatch[] = [];
  for (const row of rows) {
    const payload = decodePayload({ lsn: parseLsn(row.lsn), data: hexBytes(row.hex) });
    assert(payload.error === null, `row at ${row.lsn} does not decode: ${payload.error}`);
    assembler.push(payload);
    const batch = assembler.take();
    if (batch !== undefined) batches.push(batch);
  }
  return { events: batches.flatMap((b) => b.events), batches, assembler };
}

/** Replays the row changes of `events` and compares the model with every snapshot. */
export function checkAgainstSnapshots(events: readonly NewEvent[], snapshots: Snapshot[]): void {
  const model = new Map<string, Map<string, Row>>();
  let next = 0;
  for (const snap of snapshots) {
    const upTo = parseLsn(snap.lsn);
    for (; next < events.length; next++) {
      const ev = events[next]!;
      if (!ev.source_pos?.includes("#")) continue; // A non-transactional message.
      if (parseSourcePos(ev.source_pos).commitLsn >= upTo) break;
      if (ev.kind === "row_change") apply(model, ev);
    }
    for (const [object, rows] of Object.entries(snap.tables)) {
      compareTable(object, model.get(object) ?? new Map(), rows, snap.lsn);
    }
  }
  assertEquals(next, events.length, "events after the last snapshot");
}

function apply(model: Map<string, Map<string, Row>>, ev: NewEvent): void {
  const where = `${ev.command} of ${ev.object} at ${ev.source_pos}`;
  assert(ev.parse_error === undefined, `${where}: ${ev.parse_error}`);
  let table = model.get(ev.object!);
  if (table === undefined) model.set(ev.object!, table = new Map());
  if (ev.command === "TRUNCATE") return table.clear();
  let prev: Row | undefined;
  if (ev.command !== "INSERT") {
    const id = String((ev.old_row ?? ev.new_row)?.id);
    prev = table.get(id);
    assert(prev !== undefined, `${where}: no row ${id} to change`);
    for (const [column, value] of Object.entries(ev.old_row ?? {})) {
      assertEquals(value, prev.get(column) ?? null, `${where}: old ${column}`);
    }
    table.delete(id);
  }
  if (ev.command === "DELETE") return;
  const row: Row = new Map(prev);
  for (const [column, value] of Object.entries(ev.new_row ?? {})) {
    if (isUnchangedToast(value)) {
      assert(typeof prev?.get(column) === "string", `${where}: unchanged ${column} is not known`);
    } else row.set(column, value);
  }
  table.set(String(row.get("id")), row);
}

function compareTable(object: string, table: Map<string, Row>, rows: JsonObject[], at: string) {
  const ids = rows.map((r) => String(r.id));
  assertEquals([...table.keys()].sort(), [...ids].sort(), `rows of ${object} at ${at}`);
  for (const expected of rows) {
    const row = table.get(String(expected.id))!;
    const actual: JsonObject = {};
    for (const column of Object.keys(expected)) {
      // A column added after the row was last written reads NULL; the row never mentioned it.
      Object.defineProperty(actual, column, {
        value: row.get(column) ?? null,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    for (const column of row.keys()) {
      assert(Object.hasOwn(expected, column), `${object} at ${at}: extra column ${column}`);
    }
    assertEquals(actual, expected, `row ${expected.id} of ${object} at ${at}`);
  }
}
