/**
 * Decodes PostgreSQL's jsonlog format (`log_destination = 'jsonlog'`, PostgreSQL 15 on) from
 * bytes to records: one JSON object a line, with keys only for the values a record has
 * (timestamp, user, dbname, pid, remote_host, remote_port, session_id, line_num, ps,
 * session_start, vxid, txid, error_severity, state_code, message, detail, hint, internal_query,
 * context, statement, application_name, backend_type, query_id, …).
 *
 * JSON escapes every newline inside a value, so a record is exactly one line and a bad line
 * costs only itself. Promises as in `record.ts`: records tile the input, any chunking gives the
 * same records, a line without its newline is held and comes out `incomplete` at the end.
 */

import { ByteBuffer } from "./byte_buffer.ts";
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

/** One jsonlog line; `object` is empty when `problem` is set. */
export interface JsonRecord extends RecordSpan {
  object: Record<string, unknown>;
}

const LF = 0x0a;
const CR = 0x0d;

/** The synchronous state machine behind `JsonLogStream`. */
export class JsonLogDecoder {
  readonly #o: ResolvedOptions;
  readonly #buf: ByteBuffer;
  /** Where the search for the current line's newline goes on (so long lines scan once). */
  #searchFrom = 0;
  #line: number;

  constructor(opts: DecoderOptions = {}) {
    this.#o = resolveOptions("jsonlog", opts);
    this.#buf = new ByteBuffer(this.#o.startOffset);
    this.#line = this.#o.startLine;
  }

  /** Takes the next bytes; emits every line they complete. */
  push(chunk: Uint8Array, emit: (r: JsonRecord) => void): void {
    if (chunk.length === 0) return;
    this.#buf.append(chunk);
    this.#drain(emit, false);
  }

  /** The input is over: a line still open comes out as incomplete. */
  end(emit: (r: JsonRecord) => void): void {
    this.#drain(emit, true);
  }

  #drain(emit: (r: JsonRecord) => void, final: boolean): void {
    const b = this.#buf.bytes;
    const end = this.#buf.length;
    let pos = 0;
    for (;;) {
      const nl = b.indexOf(LF, this.#searchFrom);
      if (nl === -1 || nl >= end) {
        if (pos === end) break;
        if (final) {
          const decoded = decodeSpan(b, pos, end);
          emit(this.#bad(decoded, pos, end, "the input ends inside this line", true));
          pos = end;
        } else if (end - pos > this.#o.maxRecordBytes) {
          // Give up the line so far; the rest of it will read as a bad line of its own.
          const why = `line longer than ${this.#o.maxRecordBytes} bytes`;
          emit(this.#bad(decodeSpan(b, pos, end), pos, end, why));
          pos = end;
        } else this.#searchFrom = end;
        break;
      }
      emit(this.#decode(b, pos, nl));
      pos = nl + 1;
      this.#searchFrom = pos;
    }
    this.#buf.discard(pos);
    this.#searchFrom -= pos;
  }

  #decode(b: Uint8Array, from: number, nl: number): JsonRecord {
    const textEnd = nl > from && b[nl - 1] === CR ? nl - 1 : nl;
    const decoded = decodeSpan(b, from, textEnd);
    let object: unknown;
    try {
      object = JSON.parse(decoded.text);
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      return this.#badLine(decoded, from, nl, `not JSON (${e.message})`);
    }
    if (object === null || typeof object !== "object" || Array.isArray(object)) {
      return this.#badLine(decoded, from, nl, "not a JSON object");
    }
    const r: JsonRecord = {
      start: this.#buf.base + from,
      offset: this.#buf.base + nl + 1,
      line: this.#line++,
      text: decoded.text,
      object: object as Record<string, unknown>,
    };
    if (decoded.invalid !== undefined) r.invalidBytes = decoded.invalid;
    return r;
  }

  /** A whole line (ending at the newline at `nl`) that is not a record. */
  #badLine(
    decoded: { text: string; invalid: Uint8Array | undefined },
    from: number,
    nl: number,
    why: string,
  ): JsonRecord {
    const r = this.#bad(decoded, from, nl + 1, why);
    this.#line++;
    return r;
  }

  /** Bad bytes `[from, to)` of the buffer, its text decoded (without the newline). */
  #bad(
    decoded: { text: string; invalid: Uint8Array | undefined },
    from: number,
    to: number,
    why: string,
    incomplete = false,
  ): JsonRecord {
    const start = this.#buf.base + from;
    const problem = `Cannot read jsonlog line ${place(this.#o.file, start, this.#line)}: ${why}`;
    const span = { start, offset: this.#buf.base + to, line: this.#line };
    const r = badRecord(span, decoded, problem, incomplete) as JsonRecord;
    r.object = {};
    return r;
  }
}

/**
 * A `TransformStream` from the bytes of a jsonlog file to its lines.
 *
 * @example
 * const records = file.readable.pipeThrough(new JsonLogStream({ file: "postgresql.json" }));
 */
export class JsonLogStream extends TransformStream<Uint8Array, JsonRecord> {
  constructor(opts: DecoderOptions = {}) {
    const decoder = new JsonLogDecoder(opts);
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

/**
 * The named fields of a jsonlog line. A line whose known keys have the wrong JSON type, or
 * that has no timestamp, severity or message, is not PostgreSQL's: it comes back bad, its
 * problem naming `file`.
 */
export function jsonLogRecord(rec: JsonRecord, file = "(stream)"): LogRecord {
  if (rec.problem !== undefined) {
    const { object: _, ...bad } = rec;
    return bad;
  }
  const o = rec.object;
  const wrong: string[] = [];
  // One literal of fixed shape, as in csvLogRecord.
  const r: LogRecord = {
    start: rec.start,
    offset: rec.offset,
    line: rec.line,
    text: rec.text,
    invalidBytes: rec.invalidBytes,
    time: str(o, "timestamp", wrong),
    user: str(o, "user", wrong),
    db: str(o, "dbname", wrong),
    pid: int(o, "pid", wrong),
    host: str(o, "remote_host", wrong),
    port: int(o, "remote_port", wrong),
    sessionId: str(o, "session_id", wrong),
    lineNum: int(o, "line_num", wrong),
    commandTag: str(o, "ps", wrong),
    sessionStart: str(o, "session_start", wrong),
    vxid: str(o, "vxid", wrong),
    xid: int(o, "txid", wrong),
    severity: str(o, "error_severity", wrong),
    sqlstate: str(o, "state_code", wrong),
    message: str(o, "message", wrong),
    detail: str(o, "detail", wrong),
    hint: str(o, "hint", wrong),
    internalQuery: str(o, "internal_query", wrong),
    context: str(o, "context", wrong),
    statement: str(o, "statement", wrong),
    applicationName: str(o, "application_name", wrong),
    backendType: str(o, "backend_type", wrong),
    queryId: queryId(o.query_id, rec.text),
  };
  for (const key of ["timestamp", "error_severity", "message"]) {
    if (typeof o[key] !== "string") wrong.push(key);
  }
  if (wrong.length === 0) return r;
  const why = `not a PostgreSQL jsonlog record: bad or missing ${[...new Set(wrong)].join(", ")}`;
  const bad: LogRecord = { start: r.start, offset: r.offset, line: r.line, text: r.text };
  if (r.invalidBytes !== undefined) bad.invalidBytes = r.invalidBytes;
  bad.problem = `Cannot read jsonlog line ${place(file, r.start, r.line)}: ${why}`;
  return bad;
}

function str(o: Record<string, unknown>, key: string, wrong: string[]): string | undefined {
  const v = o[key];
  if (typeof v === "string") return v === "" ? undefined : v;
  if (v !== undefined) wrong.push(key);
  return undefined;
}

function int(o: Record<string, unknown>, key: string, wrong: string[]): number | undefined {
  const v = o[key];
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  if (v !== undefined) wrong.push(key);
  return undefined;
}

/** The 64-bit query id exactly: JSON.parse rounds it past 2^53, so read its digits instead. */
function queryId(v: unknown, text: string): string | undefined {
  if (typeof v !== "number") return typeof v === "string" ? v : undefined;
  if (Number.isSafeInteger(v)) return String(v);
  return /"query_id":(-?\d+)/.exec(text)?.[1];
}
