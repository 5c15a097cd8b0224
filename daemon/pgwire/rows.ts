/**
 * The row messages of the simple query protocol, in text format: RowDescription gives the
 * column names, DataRow the values (null for SQL NULL). Only replication commands and small
 * catalog queries go this way, so clarity wins over speed here.
 */

/** Column names from a RowDescription ('T') body. */
export function parseColumns(payload: Uint8Array, decoder: TextDecoder): string[] {
  const count = (payload[0]! << 8) | payload[1]!;
  const columns: string[] = [];
  let pos = 2;
  for (let i = 0; i < count; i++) {
    const end = payload.indexOf(0, pos);
    columns.push(decoder.decode(payload.subarray(pos, end)));
    pos = end + 1 + 18; // table oid, column number, type oid, size, modifier, format
  }
  return columns;
}

/** Values from a DataRow ('D') body, decoded as UTF-8 text. */
export function parseRow(payload: Uint8Array, decoder: TextDecoder): (string | null)[] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const count = view.getInt16(0);
  const row: (string | null)[] = [];
  let pos = 2;
  for (let i = 0; i < count; i++) {
    const length = view.getInt32(pos);
    pos += 4;
    if (length < 0) {
      row.push(null);
    } else {
      row.push(decoder.decode(payload.subarray(pos, pos + length)));
      pos += length;
    }
  }
  return row;
}
