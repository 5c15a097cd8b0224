/**
 * A table of events (`eventArrowSchema()`, one record batch) as an Arrow IPC stream, the form
 * parquet-wasm takes it in, written straight from the columns' buffers into a buffer the caller
 * hands back for the next table. apache-arrow's stream writer encoded the schema again for every
 * batch, built each message with a general FlatBuffers builder and queued every buffer as a
 * chunk: ~1 ms a batch, a tenth of an export's encoding of small files. Here the schema message
 * is encoded once (by apache-arrow) and kept, and each dictionary and record batch message is
 * laid out by hand: its metadata has one fixed shape, only the counts and sizes vary.
 *
 * The stream holds the same data as apache-arrow's (the schema, a dictionary batch per
 * dictionary column, the record batch, the end marker), so the encoder writes the same Parquet
 * bytes (a test holds it to that). A table this does not know how to lay out — another schema,
 * a sliced column, a chunked dictionary — returns null: write it with `ipcStreamInto`.
 */

import { type Data, type Dictionary, Table, tableToIPC, Type } from "apache-arrow";
import { eventArrowSchema } from "../event/arrow.ts";

/** MetadataVersion V5, and the MessageHeader union's tags. */
const V5 = 4;
const DICTIONARY_BATCH = 2;
const RECORD_BATCH = 3;
const CONTINUATION = 0xffff_ffff;
const EMPTY = new Uint8Array(0);

let schemaMessage: Uint8Array | undefined;

/** The schema message of the event schema, as apache-arrow writes it (continuation included). */
function schemaBytes(): Uint8Array {
  if (!schemaMessage) {
    const stream = tableToIPC(new Table(eventArrowSchema()), "stream");
    const dv = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
    if (dv.getUint32(0, true) !== CONTINUATION) {
      throw new Error("Cannot write Arrow IPC: apache-arrow's schema message has no prefix");
    }
    schemaMessage = stream.slice(0, 8 + dv.getInt32(4, true));
  }
  return schemaMessage;
}

/** One message to write: its nodes (length, null count pairs) and body buffers. */
interface Batch {
  dictionaryId: number;
  length: number;
  nodes: number[];
  buffers: Uint8Array[];
}

/**
 * The IPC stream of `table`, written into `into` when it is large enough, else into a new
 * buffer with room to spare; null when the table is not one this lays out. Returns a view of
 * the bytes written; keep its buffer for the next call.
 */
export function eventIpcInto(
  table: Table,
  into?: Uint8Array<ArrayBuffer>,
): Uint8Array<ArrayBuffer> | null {
  if (table.schema !== eventArrowSchema() || table.batches.length !== 1) return null;
  const struct = table.batches[0]!.data;
  if (struct.offset !== 0) return null;
  const dictionaries: Batch[] = [];
  const batch: Batch = { dictionaryId: -1, length: struct.length, nodes: [], buffers: [] };
  for (const child of struct.children) {
    if (!addField(child, batch, dictionaries)) return null;
  }
  const messages = [...dictionaries, batch];
  const schema = schemaBytes();
  let size = schema.length + 8;
  for (const m of messages) size += messageSize(m);
  let out = into && into.buffer.byteLength >= size
    ? new Uint8Array(into.buffer, 0, into.buffer.byteLength)
    : new Uint8Array(size + (size >> 3));
  out = out.subarray(0, size);
  const dv = new DataView(out.buffer, 0, size);
  out.set(schema, 0);
  let at = schema.length;
  for (const m of messages) at = writeMessage(out, dv, at, m);
  dv.setUint32(at, CONTINUATION, true);
  dv.setInt32(at + 4, 0, true);
  return out;
}

/** Adds a column's nodes and buffers (children after their parent); false if not laid out. */
function addField(d: Data, batch: Batch, dictionaries: Batch[]): boolean {
  const n = d.length;
  if (d.offset !== 0) return false;
  batch.nodes.push(n, d.nullCount);
  if (d.nullCount > 0) {
    if (!d.nullBitmap || d.nullBitmap.length < (n + 7) >> 3) return false;
    batch.buffers.push(d.nullBitmap.subarray(0, (n + 7) >> 3));
  } else batch.buffers.push(EMPTY);
  switch (d.typeId) {
    case Type.Int:
    case Type.Timestamp:
      if (d.values.BYTES_PER_ELEMENT !== 8) return false;
      batch.buffers.push(bytes(d.values, n * 8));
      return true;
    case Type.Bool:
      batch.buffers.push(bytes(d.values, (n + 7) >> 3));
      return true;
    case Type.Utf8:
      return addText(d, batch);
    case Type.List: {
      if (d.valueOffsets[0] !== 0 || d.children.length !== 1) return false;
      batch.buffers.push(bytes(d.valueOffsets, (n + 1) * 4));
      return addField(d.children[0]!, batch, dictionaries);
    }
    case Type.Dictionary: {
      const type = d.type as Dictionary;
      const words = d.dictionary?.data;
      if (d.values.BYTES_PER_ELEMENT !== 4 || words?.length !== 1) return false;
      batch.buffers.push(bytes(d.values, n * 4));
      const w = words[0]!;
      const dict: Batch = { dictionaryId: type.id, length: w.length, nodes: [], buffers: [] };
      if (w.typeId !== Type.Utf8 || w.offset !== 0 || w.nullCount !== 0) return false;
      dict.nodes.push(w.length, 0);
      dict.buffers.push(EMPTY);
      dictionaries.push(dict);
      return addText(w, dict);
    }
    default:
      return false;
  }
}

/** A Utf8 column's offsets and bytes. */
function addText(d: Data, batch: Batch): boolean {
  const n = d.length;
  if (d.valueOffsets[0] !== 0) return false;
  batch.buffers.push(bytes(d.valueOffsets, (n + 1) * 4));
  batch.buffers.push(bytes(d.values, d.valueOffsets[n]!));
  return true;
}

function bytes(a: ArrayBufferView, length: number): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, length);
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}

/** Where the parts of a message's metadata go (offsets from its start; see `writeMessage`). */
function layout(m: Batch): { rbVtable: number; rb: number; nodes: number; buffers: number } {
  const rbVtable = m.dictionaryId < 0 ? 40 : 64;
  const rb = rbVtable + 12; // ≡ 4 (mod 8): the batch's length, 12 bytes in, is 8-aligned
  const nodes = rb + 24; // ≡ 4 (mod 8): the items after the count are 8-aligned
  const buffers = nodes + 4 + 16 * (m.nodes.length / 2) + 4;
  return { rbVtable, rb, nodes, buffers };
}

function metadataSize(m: Batch): number {
  return pad8(layout(m).buffers + 4 + 16 * m.buffers.length);
}

function messageSize(m: Batch): number {
  let body = 0;
  for (const b of m.buffers) body += pad8(b.length);
  return 8 + metadataSize(m) + body;
}

/**
 * Writes one encapsulated message at `at` (8-aligned): the continuation marker, the metadata's
 * size, the metadata (a FlatBuffers `Message`, laid out forwards: root offset, each table's
 * vtable right before it, fields aligned to their size) and the body, each buffer 8-aligned.
 * Returns where the next message goes.
 */
function writeMessage(out: Uint8Array, dv: DataView, at: number, m: Batch): number {
  const size = metadataSize(m);
  const { rbVtable, rb, nodes, buffers } = layout(m);
  dv.setUint32(at, CONTINUATION, true);
  dv.setInt32(at + 4, size, true);
  const b = at + 8;
  out.fill(0, b, b + size);
  let body = 0;
  for (const buf of m.buffers) body += pad8(buf.length);
  // Message: vtable at 4 (version, header_type, header, bodyLength), table at 16.
  dv.setUint32(b, 16, true);
  vtable(dv, b + 4, 24, [6, 4, 8, 16]);
  dv.setInt32(b + 16, 12, true);
  dv.setUint8(b + 20, m.dictionaryId < 0 ? RECORD_BATCH : DICTIONARY_BATCH);
  dv.setInt16(b + 22, V5, true);
  dv.setUint32(b + 24, (m.dictionaryId < 0 ? rb : 48) - 24, true);
  dv.setBigInt64(b + 32, BigInt(body), true);
  if (m.dictionaryId >= 0) {
    // DictionaryBatch: vtable at 40 (id, data), table at 48; isDelta left at false.
    vtable(dv, b + 40, 16, [8, 4]);
    dv.setInt32(b + 48, 8, true);
    dv.setUint32(b + 52, rb - 52, true);
    dv.setBigInt64(b + 56, BigInt(m.dictionaryId), true);
  }
  // RecordBatch: vtable (length, nodes, buffers), table, then the two vectors of structs.
  vtable(dv, b + rbVtable, 20, [12, 4, 8]);
  dv.setInt32(b + rb, rb - rbVtable, true);
  dv.setUint32(b + rb + 4, nodes - (rb + 4), true);
  dv.setUint32(b + rb + 8, buffers - (rb + 8), true);
  dv.setBigInt64(b + rb + 12, BigInt(m.length), true);
  dv.setUint32(b + nodes, m.nodes.length / 2, true);
  for (let i = 0; i < m.nodes.length; i++) {
    dv.setBigInt64(b + nodes + 4 + 8 * i, BigInt(m.nodes[i]!), true);
  }
  dv.setUint32(b + buffers, m.buffers.length, true);
  let offset = 0;
  let to = b + size;
  for (const [i, buf] of m.buffers.entries()) {
    dv.setBigInt64(b + buffers + 4 + 16 * i, BigInt(offset), true);
    dv.setBigInt64(b + buffers + 12 + 16 * i, BigInt(buf.length), true);
    out.set(buf, to);
    const padded = pad8(buf.length);
    out.fill(0, to + buf.length, to + padded);
    to += padded;
    offset += padded;
  }
  return to;
}

/** A vtable at `at`: its size, the table's size, and each field's offset in the table. */
function vtable(dv: DataView, at: number, tableSize: number, fields: number[]): void {
  dv.setUint16(at, 4 + 2 * fields.length, true);
  dv.setUint16(at + 2, tableSize, true);
  for (const [i, f] of fields.entries()) dv.setUint16(at + 4 + 2 * i, f, true);
}
