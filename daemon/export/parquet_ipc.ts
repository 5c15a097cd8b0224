/**
 * An Arrow table as one Arrow IPC stream, the form parquet-wasm takes it in, written into a
 * buffer the caller hands back for the next table. `tableToIPC` allocates a new buffer each
 * time, and on this kind of machine the first write to freshly mapped memory costs more than
 * the copy itself (~90 ms for the ~40 MB of a row group, against ~2 ms into a buffer in use):
 * reusing one buffer made the IPC step ~6x faster in the export benchmark. Tables of events are
 * written by `ipc_batch.ts` instead, without apache-arrow's writer; this takes the rest.
 */

import { RecordBatchStreamWriter, type Table } from "apache-arrow";

/**
 * The IPC stream of `table`, written into `into` when it is large enough, else into a new
 * buffer with room to spare. Returns a view of the bytes written; keep its buffer for the next
 * call.
 */
export async function ipcStreamInto(
  table: Table,
  into?: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const writer = RecordBatchStreamWriter.writeAll(table);
  const chunks: Uint8Array[] = [];
  let length = 0;
  // The writer queues views of the table's own buffers: nothing is copied until here.
  for await (const chunk of writer) {
    chunks.push(chunk);
    length += chunk.byteLength;
  }
  let buf = into && into.buffer.byteLength >= length
    ? new Uint8Array(into.buffer, 0, into.buffer.byteLength)
    : new Uint8Array(length + (length >> 3));
  let at = 0;
  for (const c of chunks) {
    buf.set(c, at);
    at += c.byteLength;
  }
  buf = buf.subarray(0, length);
  return buf;
}
