/**
 * Decodes PostgreSQL's csvlog format (`log_destination = 'csvlog'`) from bytes to records.
 *
 * A record is one CSV row of `columns` fields (26 from PostgreSQL 14 on: log_time, user_name,
 * database_name, process_id, connection_from, session_id, session_line_num, command_tag,
 * session_start_time, virtual_transaction_id, transaction_id, error_severity, sql_state_code,
 * message, detail, hint, internal_query, internal_query_pos, context, query, query_pos,
 * location, application_name, backend_type, leader_pid, query_id); quoted fields span lines.
 *
 * Promises (see `record.ts`): records tile the input; chunks may split it anywhere, even inside
 * a UTF-8 sequence, and the records are the same; `offset` is exact in bytes. Bytes that are not
 * a record come out as one bad record up to the next place a record parses again (a log time
 * followed by a well-shaped row), so damage costs only the damaged bytes. A record whose end
 * has not come yet is held; at the end of the input it comes out marked `incomplete`.
 */

import { ByteBuffer } from "./byte_buffer.ts";
import { CsvScanner, RECORD_START_BYTES, startsLikeRecord } from "./csv_scan.ts";
import { splitCsv } from "./csv_text.ts";
import {
  badRecord,
  type DecoderOptions,
  decodeSpan,
  type LogRecord,
  place,
  type RecordSpan,
  type ResolvedOptions,
  resolveOptions,
} from "./record.ts";

/** One csvlog row; `fields` is empty when `problem` is set. */
export interface CsvRecord extends RecordSpan {
  fields: string[];
}

/** Options of the csvlog decoder. */
export interface CsvLogOptions extends DecoderOptions {
  /** Fields per row: 26 for PostgreSQL 14 to 17 (the default), 24 for 13, 23 for 12. */
  columns?: number;
}

const DASH = 0x2d;
const LF = 0x0a;
const CR = 0x0d;
const INCOMPLETE = "the input ends inside this record (file cut short, or still being written)";

/** The synchronous state machine behind `CsvLogStream`; tests and benchmarks use it directly. */
export class CsvLogDecoder {
  readonly #o: ResolvedOptions;
  readonly #buf: ByteBuffer;
  readonly #scan: CsvScanner;
  /** Tries candidate record starts while resynchronising. */
  readonly #probe: CsvScanner;
  /** Buffer index of the current record's first byte. */
  #pos = 0;
  #line: number;
  /** Set while the bytes at `#pos` are known not to be a record: why. */
  #bad: string | undefined;
  #badIncomplete = false;
  /** Where the search for the next record start goes on. */
  #searchFrom = 0;

  constructor(opts: CsvLogOptions = {}) {
    this.#o = resolveOptions("csvlog", opts);
    const columns = opts.columns ?? 26;
    if (!Number.isSafeInteger(columns) || columns < 14) {
      throw new TypeError(`Cannot read csvlog: option columns ${columns} is not a valid count`);
    }
    this.#buf = new ByteBuffer(this.#o.startOffset);
    this.#scan = new CsvScanner(columns);
    this.#probe = new CsvScanner(columns);
    this.#line = this.#o.startLine;
  }

  /** Takes the next bytes; emits every record they complete. */
  push(chunk: Uint8Array, emit: (r: CsvRecord) => void): void {
    if (chunk.length === 0) return;
    this.#buf.append(chunk);
    this.#drain(emit, false);
  }

  /** The input is over: emits what is held, as bad or incomplete records. */
  end(emit: (r: CsvRecord) => void): void {
    this.#drain(emit, true);
  }

  #drain(emit: (r: CsvRecord) => void, final: boolean): void {
    const b = this.#buf.bytes;
    const end = this.#buf.length;
    while (this.#pos < end) {
      if (this.#bad === undefined) {
        const r = this.#scan.scan(b, end);
        if (r === "record") {
          this.#emitRecord(b, this.#scan.end, emit);
          continue;
        }
        if (r === "bad") {
          this.#startBad(this.#scan.problem, false);
        } else if (final) {
          this.#startBad(INCOMPLETE, true);
        } else if (end - this.#pos > this.#o.maxRecordBytes) {
          this.#startBad(`no record end within ${this.#o.maxRecordBytes} bytes`, false);
        } else break;
      }
      if (!this.#resync(b, end, final, emit)) break;
    }
    const drop = this.#pos;
    this.#buf.discard(drop);
    this.#scan.shift(drop);
    this.#searchFrom -= drop;
    this.#pos = 0;
  }

  #startBad(why: string, incomplete: boolean): void {
    this.#bad = why;
    this.#badIncomplete = incomplete;
    this.#searchFrom = this.#pos + 1;
  }

  /**
   * Looks for the next place a record starts again after bad bytes at `#pos`: a log time whose
   * row scans without fault (or is still coming). Returns false when it must wait for more.
   */
  #resync(b: Uint8Array, end: number, final: boolean, emit: (r: CsvRecord) => void): boolean {
    // Every record starts with YYYY-: the dash four bytes in finds candidates quickly.
    for (let dash = b.indexOf(DASH, this.#searchFrom + 4); dash !== -1 && dash < end;) {
      const c = dash - 4;
      if (c + RECORD_START_BYTES > end) {
        if (final) break;
        this.#searchFrom = c;
        return this.#cutOverlong(b, end, emit);
      }
      if (startsLikeRecord(b, c)) {
        this.#probe.reset(c);
        if (this.#probe.scan(b, end) !== "bad") {
          this.#emitBad(b, c, emit);
          return true;
        }
      }
      dash = b.indexOf(DASH, dash + 1);
    }
    if (final) {
      this.#emitBad(b, end, emit);
      return true;
    }
    this.#searchFrom = Math.max(this.#searchFrom, end - 4);
    return this.#cutOverlong(b, end, emit);
  }

  /** Bad bytes with no record start in sight: held, up to the limit. */
  #cutOverlong(b: Uint8Array, end: number, emit: (r: CsvRecord) => void): boolean {
    if (end - this.#pos <= this.#o.maxRecordBytes) return false;
    this.#emitBad(b, end, emit);
    return true;
  }

  #emitRecord(b: Uint8Array, to: number, emit: (r: CsvRecord) => void): void {
    const from = this.#pos;
    let textEnd = to - 1; // without the newline
    if (textEnd > from && b[textEnd - 1] === CR) textEnd--;
    const decoded = decodeSpan(b, from, textEnd);
    // ASCII text (the common case) is cut where the byte scan found the fields.
    const ascii = decoded.text.length === textEnd - from;
    const r: CsvRecord = {
      start: this.#buf.base + from,
      offset: this.#buf.base + to,
      line: this.#line,
      text: decoded.text,
      fields: ascii ? this.#scan.fieldsOf(decoded.text) : splitCsv(decoded.text),
    };
    if (decoded.invalid !== undefined) r.invalidBytes = decoded.invalid;
    this.#advance(to, 1 + newlines(decoded.text));
    emit(r);
  }

  #emitBad(b: Uint8Array, to: number, emit: (r: CsvRecord) => void): void {
    const from = this.#pos;
    const start = this.#buf.base + from;
    const why = `Cannot read csvlog record ${place(this.#o.file, start, this.#line)}: ${this.#bad}`;
    const span = { start, offset: this.#buf.base + to, line: this.#line };
    const textEnd = to > from && b[to - 1] === LF ? to - 1 : to;
    const decoded = decodeSpan(b, from, textEnd);
    const r = badRecord(span, decoded, why, this.#badIncomplete) as CsvRecord;
    r.fields = [];
    this.#bad = undefined;
    this.#badIncomplete = false;
    this.#advance(to, newlines(decoded.text) + (textEnd < to ? 1 : 0));
    emit(r);
  }

  /** Moves past a record of `lines` newlines. */
  #advance(to: number, lines: number): void {
    this.#line += lines;
    this.#pos = to;
    this.#scan.reset(to);
  }
}

/** Newlines in `text`; searching the decoded text measured faster than the bytes. */
function newlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/**
 * A `TransformStream` from the bytes of a csvlog file to its records.
 *
 * @example
 * const file = await Deno.open("postgresql.csv");
 * for await (const rec of file.readable.pipeThrough(new CsvLogStream({ file: "postgresql.csv" }))) {
 *   if (rec.problem) console.log(rec.problem);
 *   else console.log(rec.offset, rec.fields[13]);
 * }
 */
export class CsvLogStream extends TransformStream<Uint8Array, CsvRecord> {
  constructor(opts: CsvLogOptions = {}) {
    const decoder = new CsvLogDecoder(opts);
    super({
      transform(chunk, controller): void {
        decoder.push(chunk, (r) => controller.enqueue(r));
      },
      flush(controller): void {
        decoder.end((r) => controller.enqueue(r));
      },
    });
  }
}

/** The named fields of a csvlog row (a bad row stays as it is). */
export function csvLogRecord(rec: CsvRecord): LogRecord {
  const f = rec.fields;
  if (rec.problem !== undefined) {
    const { fields: _, ...bad } = rec;
    return bad;
  }
  // connection_from is host:port, or [local]; an IPv6 host has colons of its own.
  const from = f[4] ?? "";
  const colon = from.lastIndexOf(":");
  const port = colon === -1 ? undefined : int(from.slice(colon + 1));
  return {
    start: rec.start,
    offset: rec.offset,
    line: rec.line,
    text: rec.text,
    invalidBytes: rec.invalidBytes,
    time: text(f[0]),
    user: text(f[1]),
    db: text(f[2]),
    pid: int(f[3]),
    host: text(port === undefined ? from : from.slice(0, colon)),
    port,
    sessionId: text(f[5]),
    lineNum: int(f[6]),
    commandTag: text(f[7]),
    sessionStart: text(f[8]),
    vxid: text(f[9]),
    xid: int(f[10]),
    severity: text(f[11]),
    sqlstate: text(f[12]),
    message: text(f[13]),
    detail: text(f[14]),
    hint: text(f[15]),
    internalQuery: text(f[16]),
    context: text(f[18]),
    statement: text(f[19]),
    applicationName: text(f[22]),
    backendType: text(f[23]),
    queryId: text(f[25]),
  };
}

function text(value: string | undefined): string | undefined {
  return value === "" ? undefined : value;
}

/** Digits to a number, without a RegExp (this runs a few times per record). */
function int(value: string | undefined): number | undefined {
  if (value === undefined || value.length === 0 || value.length > 15) return undefined;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return n;
}
