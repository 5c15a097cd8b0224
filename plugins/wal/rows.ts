/**
 * Row images for `old_row` / `new_row`: a JSON object of column name → PostgreSQL's text output,
 * `null` for NULL, in the relation's column order.
 *
 * An unchanged TOASTed value — one the WAL does not carry, because an UPDATE left it alone —
 * becomes `{"unchanged_toast": true}`. It keeps the column in the row, so an auditor sees the
 * column exists and was not written by this change, and it is an object where every real value
 * is a string or null, so no text (not even `"unchanged"`) can be mistaken for it. The value
 * itself is the one of the row's previous image (in `old_row` with REPLICA IDENTITY FULL, or
 * in an earlier event).
 *
 * A key-only old row (REPLICA IDENTITY DEFAULT or USING INDEX) holds just the key columns:
 * PostgreSQL sends the others as NULL, which would read as a value the row never had.
 */

import type { JsonObject, JsonValue } from "../../daemon/event/model.ts";
import { type RelationMessage, type TupleData, UNCHANGED_TOAST } from "./pgoutput_types.ts";

/** The `unchanged_toast` marker's key: `{"unchanged_toast": true}`. */
export const UNCHANGED_TOAST_KEY = "unchanged_toast";

/** True for the JSON stand-in of an unchanged TOASTed value. */
export function isUnchangedToast(value: JsonValue | undefined): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    value[UNCHANGED_TOAST_KEY] === true;
}

/** A row image and its approximate size in characters (names and values), for memory bounds. */
export interface RowImage {
  row: JsonObject;
  size: number;
}

/**
 * The JSON image of `tuple`, a row of `rel`. With `keyOnly`, only the replica identity columns.
 * Throws `SyntaxError` when the tuple does not have the relation's number of columns.
 */
export function rowImage(rel: RelationMessage, tuple: TupleData, keyOnly: boolean): RowImage {
  const columns = rel.columns;
  if (tuple.length !== columns.length) {
    throw new SyntaxError(
      `a row of ${rel.namespace}.${rel.name} has ${tuple.length} columns, ` +
        `but its Relation message (oid ${rel.oid}) describes ${columns.length}`,
    );
  }
  const row: JsonObject = {};
  let size = 0;
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!;
    if (keyOnly && !column.key) continue;
    const value = tuple[i]!;
    let json: JsonValue;
    if (value === UNCHANGED_TOAST) json = { [UNCHANGED_TOAST_KEY]: true };
    else {
      json = value;
      if (value !== null) size += value.length;
    }
    size += column.name.length;
    if (column.name === "__proto__") {
      // Plain assignment would set the prototype; a column may have that name.
      Object.defineProperty(row, column.name, {
        value: json,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else row[column.name] = json;
  }
  return { row, size };
}
