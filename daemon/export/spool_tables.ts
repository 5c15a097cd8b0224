/**
 * Reading a spooled partition (`spool.ts`) back as Arrow tables of events, a batch at a time,
 * built from its lines' bytes in place (`arrow_json.ts`). Apart from the spool so that reading
 * the log into it does not load Arrow: the export loads this, with the Parquet writer, while the
 * log is read (`bundle_files.ts`).
 */

import type { Table } from "apache-arrow";
import { JsonBatchBuilder, type JsonLines } from "./arrow_json.ts";

/** Bytes read from the spool file at a time. */
const READ_BYTES = 1 << 20;

/**
 * What reading spool files back needs, made once for all the files of an export: a column
 * builder and a read buffer made afresh for each of ~1,000 small files (a partition a source and
 * day) cost more than the rows in them. One file is read at a time with it.
 */
export class SpoolReader {
  readonly batchRows: number;
  readonly builder: JsonBatchBuilder;
  readonly lines: JsonLines;

  constructor(batchRows: number) {
    this.batchRows = batchRows;
    this.builder = new JsonBatchBuilder(batchRows);
    this.lines = {
      buf: new Uint8Array(READ_BYTES),
      starts: new Int32Array(batchRows),
      ends: new Int32Array(batchRows),
      count: 0,
    };
  }
}

/**
 * The events of a spooled partition as Arrow tables of `batchRows` rows (the last one shorter),
 * built from the lines' bytes in place (`arrow_json.ts`), with `reader`'s memory when given
 * (then one partition at a time). Throws RangeError when its lines do not hold exactly `want`'s
 * rows and seqs.
 */
export async function* spooledTables(
  part: { file: string; extents: readonly number[] },
  opts: {
    batchRows: number;
    want: { rows: number; firstSeq: number; lastSeq: number };
    reader?: SpoolReader;
  },
): AsyncGenerator<Table> {
  // Read synchronously, from the page cache the spool was just written to (as `flush`).
  const file = part.file;
  using f = new ExtentReader(part, Deno.openSync(file, { read: true }));
  const reader = opts.reader?.batchRows === opts.batchRows
    ? opts.reader
    : new SpoolReader(opts.batchRows);
  const { builder, lines } = reader;
  lines.count = 0;
  // Whole lines are found in the buffer and built a batch at a time; the bytes after the last
  // line used move to the front. The buffer grows for a batch (or a line) larger than it.
  let have = 0, scanned = 0;
  let rows = 0, first = -1, last = -1;
  const build = (): Table => {
    const got = builder.build(lines);
    if (lines.count > 0) {
      if (rows === 0) first = got.firstSeq;
      last = got.lastSeq;
      rows += lines.count;
    }
    return got.table;
  };
  for (;;) {
    if (have === lines.buf.length) {
      const grown = new Uint8Array(lines.buf.length * 2);
      grown.set(lines.buf);
      lines.buf = grown;
    }
    const n = f.readSync(lines.buf.subarray(have));
    if (n === null) break;
    have += n;
    const buf = lines.buf;
    let at = lines.count === 0 ? scanned : lines.ends[lines.count - 1]! + 1;
    for (let nl = buf.indexOf(0x0a, at); nl >= 0 && nl < have; nl = buf.indexOf(0x0a, at)) {
      lines.starts[lines.count] = at;
      lines.ends[lines.count++] = nl;
      at = nl + 1;
      if (lines.count === opts.batchRows) {
        yield build();
        lines.count = 0;
        buf.copyWithin(0, at, have);
        have -= at;
        at = 0;
      }
    }
    scanned = at;
  }
  if (have > scanned) {
    throw new SyntaxError(`Cannot read spool file ${file}: it ends inside a line`);
  }
  // The last table is checked before it is handed on, so the file never gets its footer.
  const end = lines.count > 0 || rows === 0 ? build() : undefined;
  const want = opts.want;
  if (rows !== want.rows || first !== want.firstSeq || last !== want.lastSeq) {
    throw new RangeError(
      `Cannot write Parquet: got ${rows} events (seq ${first} to ${last}) but the metadata ` +
        `says ${want.rows} (seq ${want.firstSeq} to ${want.lastSeq})`,
    );
  }
  if (end) yield end;
}

/** Reads a partition's runs of bytes from the spool file, in order, as one stream. */
class ExtentReader {
  readonly #part: { file: string; extents: readonly number[] };
  readonly #file: Deno.FsFile;
  #next = 0;
  #left = 0;

  constructor(part: { file: string; extents: readonly number[] }, file: Deno.FsFile) {
    this.#part = part;
    this.#file = file;
  }

  /** Reads into `into` (not empty) as `FsFile.readSync` does: the count, or null at the end. */
  readSync(into: Uint8Array): number | null {
    const extents = this.#part.extents;
    while (this.#left === 0) {
      if (this.#next >= extents.length) return null;
      this.#file.seekSync(extents[this.#next]!, Deno.SeekMode.Start);
      this.#left = extents[this.#next + 1]!;
      this.#next += 2;
    }
    const n = this.#file.readSync(into.subarray(0, Math.min(into.length, this.#left)));
    if (n === null) {
      throw new RangeError(
        `Cannot read spool file ${this.#part.file}: it ends before offset ` +
          `${extents[this.#next - 2]! + extents[this.#next - 1]!}`,
      );
    }
    this.#left -= n;
    return n;
  }

  [Symbol.dispose](): void {
    this.#file.close();
  }
}
