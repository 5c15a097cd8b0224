/**
 * Decodes PostgreSQL's stderr log format (what the logging collector writes to `*.log`) from
 * bytes to records, driven by the server's `log_line_prefix`.
 *
 * One log entry is a first line `<prefix>SEVERITY:  message`, the lines PostgreSQL adds for it
 * with the same prefix (`DETAIL:`, `HINT:`, `QUERY:`, `CONTEXT:`, `LOCATION:`, `STATEMENT:`),
 * and continuation lines: PostgreSQL writes a TAB after every newline inside a message, so a
 * line starting with a TAB continues the one before. Dropping exactly that TAB gives the text
 * back byte for byte (a statement's own tabs and carriage returns stay).
 *
 * An entry is complete only when the next one starts, so the last entry is held until then,
 * until `idle()` (the writer has reached the end of the file and found its last line complete:
 * the server writes an entry in one go, so a reader that waits a moment there sees it whole),
 * or until the end of the input. Promises as in `record.ts`: records tile the input; a line that
 * is not an entry (no prefix, or a part line with no entry of its process before it) comes out
 * as a bad record of its own with its continuation lines.
 */

import { ByteBuffer } from "./byte_buffer.ts";
import {
  badRecord,
  type DecoderOptions,
  decodeSpan,
  type LogRecord,
  place,
  type ResolvedOptions,
  resolveOptions,
} from "./record.ts";
import {
  compileLogLinePrefix,
  PART_SEVERITIES,
  prefixFields,
  type PrefixMatch,
  type PrefixParser,
} from "./stderr_prefix.ts";

/** Options of the stderr decoder. */
export interface StderrLogOptions extends DecoderOptions {
  /** The server's `log_line_prefix`, exactly. */
  logLinePrefix: string;
  /** The server runs with `log_error_verbosity = verbose` (an SQLSTATE after the severity). */
  verbose?: boolean;
}

const LF = 0x0a;
const TAB = 0x09;

/** An entry being read: buffer indices of its bytes and what its lines said. */
interface Entry {
  from: number;
  to: number;
  line: number;
  match: PrefixMatch | undefined;
  /** The first line and each part line. */
  parts: Part[];
  problem: string | undefined;
  incomplete: boolean;
}

/**
 * One message of an entry: the text on its prefixed line, and where its bytes lie, so that
 * continuation lines are decoded once with it rather than line by line (a long statement has
 * thousands). `from` is -1 when the prefix's byte length is unknown (invalid UTF-8 in it); the
 * continuations are then added to `text` as they come.
 */
interface Part {
  severity: string;
  text: string;
  from: number;
  to: number;
  continued: boolean;
}

/** The synchronous state machine behind `StderrLogStream`. */
export class StderrLogDecoder {
  readonly #o: ResolvedOptions;
  readonly #prefix: PrefixParser;
  readonly #buf: ByteBuffer;
  #entry: Entry | undefined;
  /** Buffer index of the first byte of the line not yet read. */
  #lineStart = 0;
  #searchFrom = 0;
  /** Line number of the line at `#lineStart`. */
  #line: number;

  constructor(opts: StderrLogOptions) {
    this.#o = resolveOptions("stderr log", opts);
    const verbose = opts.verbose === true;
    this.#prefix = compileLogLinePrefix(opts.logLinePrefix, { verbose });
    this.#buf = new ByteBuffer(this.#o.startOffset);
    this.#line = this.#o.startLine;
  }

  /** Takes the next bytes; emits every entry that the lines in them show to be complete. */
  push(chunk: Uint8Array, emit: (r: LogRecord) => void): void {
    if (chunk.length === 0) return;
    this.#buf.append(chunk);
    this.#drain(emit, "push");
  }

  /** The writer is at the end of the file for now: a held entry whose lines are all whole ends. */
  idle(emit: (r: LogRecord) => void): void {
    this.#drain(emit, "idle");
  }

  /** The input is over: emits what is held. */
  end(emit: (r: LogRecord) => void): void {
    this.#drain(emit, "end");
  }

  #drain(emit: (r: LogRecord) => void, mode: "push" | "idle" | "end"): void {
    const b = this.#buf.bytes;
    const end = this.#buf.length;
    for (;;) {
      const nl = b.indexOf(LF, this.#searchFrom);
      if (nl === -1 || nl >= end) break;
      this.#takeLine(b, nl + 1, false, emit);
    }
    this.#searchFrom = end;
    if (this.#lineStart < end) {
      if (mode === "end") this.#takeLine(b, end, true, emit);
      else if (end - this.#lineStart > this.#o.maxRecordBytes) {
        this.#finishEntry(b, emit);
        this.#entry = this.#newEntry(undefined, `line longer than ${this.#o.maxRecordBytes} bytes`);
        this.#entry.to = end;
        this.#lineStart = end;
        this.#finishEntry(b, emit);
      }
    }
    if (mode === "end" || (mode === "idle" && this.#lineStart === end)) this.#finishEntry(b, emit);
    const keep = this.#entry?.from ?? this.#lineStart;
    this.#buf.discard(keep);
    if (this.#entry !== undefined) {
      this.#entry.from -= keep;
      this.#entry.to -= keep;
      for (const p of this.#entry.parts) {
        if (p.from !== -1) p.from -= keep;
        p.to -= keep;
      }
    }
    this.#lineStart -= keep;
    this.#searchFrom -= keep;
  }

  /** Reads the line from `#lineStart` to `to` (past its LF unless `incomplete`). */
  #takeLine(b: Uint8Array, to: number, incomplete: boolean, emit: (r: LogRecord) => void): void {
    const from = this.#lineStart;
    const textEnd = incomplete ? to : to - 1;
    this.#lineStart = to;
    this.#searchFrom = to;
    const entry = this.#entry;
    if (b[from] === TAB && entry !== undefined && to - entry.from <= this.#o.maxRecordBytes) {
      const last = entry.parts[entry.parts.length - 1];
      if (last !== undefined) {
        last.continued = true;
        last.to = textEnd;
        if (last.from === -1) last.text += "\n" + decodeSpan(b, from + 1, textEnd).text;
      }
      this.#extend(entry, to, incomplete);
      return;
    }
    if (b[from] === TAB) {
      this.#finishEntry(b, emit);
      this.#open(from, undefined, "a continuation line (TAB) that follows no log entry");
      this.#extend(this.#entry!, to, incomplete);
      return;
    }
    const text = decodeSpan(b, from, textEnd).text;
    const m = this.#prefix.match(text);
    const current = this.#entry;
    const part = m === undefined ? undefined : newPart(m, text, from, textEnd);
    if (m !== undefined && PART_SEVERITIES.has(m.severity)) {
      if (current?.match !== undefined && sameEntry(current.match, m)) {
        current.parts.push(part!);
        this.#extend(current, to, incomplete);
        return;
      }
    }
    this.#finishEntry(b, emit);
    if (m === undefined) {
      const why = `line does not match log_line_prefix ${JSON.stringify(this.#prefix.prefix)}`;
      this.#open(from, undefined, why);
    } else if (PART_SEVERITIES.has(m.severity)) {
      this.#open(from, undefined, `${m.severity} line that follows no log entry of its process`);
    } else {
      this.#open(from, m, undefined);
      this.#entry!.parts.push(part!);
    }
    this.#extend(this.#entry!, to, incomplete);
  }

  #open(from: number, m: PrefixMatch | undefined, problem: string | undefined): void {
    this.#entry = this.#newEntry(m, problem);
    this.#entry.from = from;
  }

  #newEntry(m: PrefixMatch | undefined, problem: string | undefined): Entry {
    const from = this.#lineStart;
    return { from, to: from, line: this.#line, match: m, parts: [], problem, incomplete: false };
  }

  #extend(entry: Entry, to: number, incomplete: boolean): void {
    entry.to = to;
    if (incomplete) entry.incomplete = true;
    else this.#line++;
  }

  #finishEntry(b: Uint8Array, emit: (r: LogRecord) => void): void {
    const e = this.#entry;
    if (e === undefined) return;
    this.#entry = undefined;
    const textEnd = e.to > e.from && b[e.to - 1] === LF ? e.to - 1 : e.to;
    const decoded = decodeSpan(b, e.from, textEnd);
    const start = this.#buf.base + e.from;
    const span = { start, offset: this.#buf.base + e.to, line: e.line };
    const at = place(this.#o.file, start, e.line);
    if (e.problem !== undefined || e.match === undefined || e.incomplete) {
      const why = e.problem ?? "the input ends inside this entry";
      emit(badRecord(span, decoded, `Cannot read stderr log entry ${at}: ${why}`, e.incomplete));
      return;
    }
    const r: LogRecord = { ...span, text: decoded.text };
    if (decoded.invalid !== undefined) r.invalidBytes = decoded.invalid;
    for (const p of e.parts) {
      // PostgreSQL put one TAB after each newline of the message: take exactly that one out.
      if (p.continued && p.from !== -1) {
        p.text = decodeSpan(b, p.from, p.to).text.replaceAll("\n\t", "\n");
      }
    }
    fill(r, e.match, e.parts);
    emit(r);
  }
}

const encoder = new TextEncoder();

/** A part from its prefixed line `text` (bytes `[from, textEnd)` of the buffer). */
function newPart(m: PrefixMatch, text: string, from: number, textEnd: number): Part {
  let at = -1;
  if (text.length === textEnd - from) at = from + m.at; // ASCII: a character is a byte
  else if (!text.includes("\uFFFD")) at = from + encoder.encode(text.slice(0, m.at)).length;
  return { severity: m.severity, text: m.message, from: at, to: textEnd, continued: false };
}

/**
 * A part line belongs to the entry before it when it comes from the same process and session.
 * Not the same `%l`: PostgreSQL counts each prefixed line, part lines too.
 */
function sameEntry(a: PrefixMatch, b: PrefixMatch): boolean {
  for (const k of ["p", "c"]) {
    if (a.values[k] !== b.values[k]) return false;
  }
  return true;
}

const PART_FIELDS = {
  DETAIL: "detail",
  HINT: "hint",
  QUERY: "internalQuery",
  CONTEXT: "context",
  STATEMENT: "statement",
} as const;

function fill(r: LogRecord, m: PrefixMatch, parts: Part[]): void {
  prefixFields(r, m);
  r.message = parts[0]?.text ?? m.message;
  for (const p of parts.slice(1)) {
    const key = PART_FIELDS[p.severity as keyof typeof PART_FIELDS];
    if (key === undefined) continue; // LOCATION: the server's source file, not about the client
    const prev = r[key];
    r[key] = prev === undefined ? p.text : `${prev}\n${p.text}`;
  }
}

/**
 * A `TransformStream` from the bytes of a stderr log file to its entries. An empty chunk means
 * "the writer is at the end of the file for now" (see `StderrLogDecoder.idle`).
 *
 * @example
 * const records = file.readable.pipeThrough(
 *   new StderrLogStream({ logLinePrefix: "%m [%p] %q%u@%d ", file: "postgresql.log" }),
 * );
 */
export class StderrLogStream extends TransformStream<Uint8Array, LogRecord> {
  constructor(opts: StderrLogOptions) {
    const decoder = new StderrLogDecoder(opts);
    super({
      transform(chunk, controller): void {
        const emit = (r: LogRecord): void => controller.enqueue(r);
        if (chunk.length === 0) decoder.idle(emit);
        else decoder.push(chunk, emit);
      },
      flush(controller): void {
        decoder.end((r) => controller.enqueue(r));
      },
    });
  }
}
