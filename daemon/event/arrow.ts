/**
 * The Arrow form of events: the schema exports write as Parquet, and the column builder. Columns
 * map one-to-one, in order, onto `EVENT_FIELDS`:
 *
 * | field type | Arrow type |
 * |---|---|
 * | `int` | Int64 for every integer field, so no id can overflow a narrower type later |
 * | `ts` | Timestamp(MICROSECOND, "UTC") |
 * | `string` | Utf8; Dictionary<Utf8, Int32> when low-cardinality |
 * | `kind` | Dictionary<Utf8, Int32> |
 * | `bool` | Bool |
 * | `json` | Utf8 holding exactly `JSON.stringify(value)`, so the canonical bytes rebuild |
 * | `strings` | List<Utf8> with nullable items |
 *
 * Required fields are non-nullable columns; an absent optional field is a null. Columns are built
 * straight into typed arrays (offsets, UTF-8 bytes, validity bitmaps) and handed to `makeData`
 * (`arrow_columns.ts`): Arrow's own builders measured 16x slower here. `arrowRowToEvent` in `arrow_rows.ts` reads rows
 * back so that the canonical encoding of each equals the original's.
 */

import {
  Bool,
  type DataType,
  Dictionary,
  Field,
  Int32,
  Int64,
  List,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  Utf8,
} from "apache-arrow";
import type { Alloc } from "./arrow_buffers.ts";
import { buildColumns } from "./arrow_columns.ts";
import { type AuditEvent, EVENT_FIELDS, type FieldSpec } from "./model.ts";
import { EVENT_SCHEMA_VERSION, EVENT_SCHEMA_VERSION_KEY } from "./schema_version.ts";

export { arrowRowToEvent, arrowTableEvents } from "./arrow_rows.ts";
export { BufferPool } from "./arrow_buffers.ts";

// The layout's version lives apart from Arrow, so that the encoder Workers, which only name it
// in a file's metadata, do not load Arrow (~12 MiB a Worker).
export { EVENT_SCHEMA_VERSION, EVENT_SCHEMA_VERSION_KEY } from "./schema_version.ts";

let schema: Schema | undefined;

/** The Arrow schema of an event table. One shared instance; treat it as immutable. */
export function eventArrowSchema(): Schema {
  schema ??= new Schema(
    EVENT_FIELDS.map((spec, i) => {
      // Field metadata marks JSON text so a reader can tell it from a plain string column.
      const meta = spec.type === "json" ? new Map([["vigil.type", "json"]]) : null;
      return new Field(spec.name, arrowType(spec, i), !spec.required, meta);
    }),
    new Map([[EVENT_SCHEMA_VERSION_KEY, EVENT_SCHEMA_VERSION]]),
  );
  return schema;
}

function arrowType(spec: FieldSpec, dictionaryId: number): DataType {
  switch (spec.type) {
    case "int":
      return new Int64();
    case "ts":
      return new TimestampMicrosecond("UTC");
    case "bool":
      return new Bool();
    case "json":
      return new Utf8();
    case "strings":
      return new List(new Field("item", new Utf8(), true));
    case "kind":
    case "string":
      return spec.type === "kind" || spec.lowCardinality
        ? new Dictionary(new Utf8(), new Int32(), dictionaryId)
        : new Utf8();
  }
}

/**
 * Builds one record batch of events as a table with `eventArrowSchema()`. Values are assumed
 * valid (see `validateEvent`); a missing required field or a value of the wrong type throws a
 * `TypeError` naming the event and field, and a column past 2 GiB of text a `RangeError`.
 * With a `BufferPool` as `alloc`, the table is valid only until the next build from that pool.
 */
export function eventsToArrowTable(events: readonly AuditEvent[], alloc?: Alloc): Table {
  const s = eventArrowSchema();
  const children = buildColumns(EVENT_FIELDS, s.fields.map((f) => f.type), events, alloc);
  const data = makeData({
    type: new Struct(s.fields),
    length: events.length,
    nullCount: 0,
    children,
  });
  return new Table(s, [new RecordBatch(s, data)]);
}
