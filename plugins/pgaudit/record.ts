/**
 * What the three log decoders (csvlog, jsonlog, stderr) hand on, and what they share.
 *
 * Every byte a decoder is given comes out in exactly one record, in order: the records' byte
 * ranges `[start, offset)` tile the input without gap or overlap. Bytes that do not form a
 * record come out as a record with `problem` set and the bytes in `text`, never dropped; a
 * record cut short at the end of the input is held back until more bytes come, and only at the
 * end of the input comes out as `incomplete`. That is what lets a log source store
 * "byte offset of the record's end" as its position and resume there without loss.
 */

/** Options every decoder takes. */
export interface DecoderOptions {
  /** The file's name, for messages; default `"(stream)"`. */
  file?: string;
  /** File offset of the first byte given to the decoder; default 0. */
  startOffset?: number;
  /** Line number of the line that byte starts; default 1. */
  startLine?: number;
  /**
   * Longest record held back while its end has not come, in bytes; default 64 MiB. Past it the
   * bytes so far come out as a bad record, so a missing newline or quote cannot hold memory
   * without bound.
   */
  maxRecordBytes?: number;
}

/** Default `maxRecordBytes`: a maximal pgAudit statement, doubled by quoting, with room. */
export const DEFAULT_MAX_RECORD_BYTES: number = 64 * 1024 * 1024;

/** Where a record's bytes lie in the file, its text, and what was wrong with it. */
export interface RecordSpan {
  /** File offset of the record's first byte. */
  start: number;
  /** File offset just past the record (past its newline): where reading resumes after it. */
  offset: number;
  /** Line number of the record's first line (counted from `startLine`). */
  line: number;
  /** The record's text without its final newline; invalid UTF-8 as U+FFFD. */
  text: string;
  /** The record's bytes, kept only when they are not valid UTF-8, so `raw` can be exact. */
  invalidBytes?: Uint8Array | undefined;
  /** Why these bytes are not a record (then only the fields above are set). */
  problem?: string | undefined;
  /** The input ended inside this record. */
  incomplete?: true | undefined;
}

/**
 * One PostgreSQL log record, by name, as all three formats give it. Absent (or undefined) fields
 * were empty or not in the format (the stderr format has only what `log_line_prefix` prints).
 * Decoders build it as one literal of fixed shape: growing it key by key cost a seventh of the
 * csvlog path's time when measured.
 */
export interface LogRecord extends RecordSpan {
  /** `log_time` as written: `2026-11-23 18:00:00.123 UTC`, or epoch seconds from `%n`. */
  time?: string | undefined;
  user?: string | undefined;
  db?: string | undefined;
  pid?: number | undefined;
  /** Client host, `[local]` for a Unix socket. */
  host?: string | undefined;
  port?: number | undefined;
  sessionId?: string | undefined;
  /** The session's log line number (`%l`, `session_line_num`, `line_num`). */
  lineNum?: number | undefined;
  /** The command tag shown in `ps` (`%i`, `command_tag`, `ps`). */
  commandTag?: string | undefined;
  sessionStart?: string | undefined;
  vxid?: string | undefined;
  xid?: number | undefined;
  /** `LOG`, `ERROR`, `FATAL`, … */
  severity?: string | undefined;
  sqlstate?: string | undefined;
  message?: string | undefined;
  detail?: string | undefined;
  hint?: string | undefined;
  internalQuery?: string | undefined;
  context?: string | undefined;
  /** The client's statement (`STATEMENT:`, `query`, `statement`). */
  statement?: string | undefined;
  applicationName?: string | undefined;
  backendType?: string | undefined;
  queryId?: string | undefined;
}

/** The options with their defaults filled in, checked. */
export interface ResolvedOptions {
  file: string;
  startOffset: number;
  startLine: number;
  maxRecordBytes: number;
}

/** Fills in defaults; throws `TypeError` naming a bad option. */
export function resolveOptions(what: string, opts: DecoderOptions): ResolvedOptions {
  const r: ResolvedOptions = {
    file: opts.file ?? "(stream)",
    startOffset: opts.startOffset ?? 0,
    startLine: opts.startLine ?? 1,
    maxRecordBytes: opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
  };
  for (const key of ["startOffset", "startLine", "maxRecordBytes"] as const) {
    const v = r[key];
    if (!Number.isSafeInteger(v) || v < (key === "startOffset" ? 0 : 1)) {
      throw new TypeError(`Cannot read ${what}: option ${key} ${v} is not a valid integer`);
    }
  }
  return r;
}

// ignoreBOM: a statement that starts with U+FEFF must keep it.
const lossy = new TextDecoder("utf-8", { ignoreBOM: true });

/** Text of `bytes[from, to)` and, when they are not valid UTF-8, a copy of them. */
export function decodeSpan(
  bytes: Uint8Array,
  from: number,
  to: number,
): { text: string; invalid: Uint8Array | undefined } {
  const view = bytes.subarray(from, to);
  const text = lossy.decode(view);
  // U+FFFD is also valid text; only then is the byte check worth it.
  if (!text.includes("\uFFFD") || isUtf8(view)) return { text, invalid: undefined };
  return { text, invalid: view.slice() };
}

/**
 * True when `b` is well-formed UTF-8 (RFC 3629: no overlongs, surrogates or code points past
 * U+10FFFF). A loop, not a fatal TextDecoder: its exception costs some 20 µs a call, and damaged
 * or hostile input can make that every record.
 */
export function isUtf8(b: Uint8Array): boolean {
  const n = b.length;
  for (let i = 0; i < n;) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const more = c >= 0xc2 && c <= 0xdf
      ? 1
      : c >= 0xe0 && c <= 0xef
      ? 2
      : c >= 0xf0 && c <= 0xf4
      ? 3
      : 0;
    if (more === 0 || i + more >= n) return false;
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    const c1 = b[i + 1]!;
    if (c1 < lo || c1 > hi) return false;
    for (let k = 2; k <= more; k++) if ((b[i + k]! & 0xc0) !== 0x80) return false;
    i += more + 1;
  }
  return true;
}

/** `in FILE at byte N (line L)`, the place part of every decoder message. */
export function place(file: string, offset: number, line: number): string {
  return `in ${file} at byte ${offset} (line ${line})`;
}

/** A record for bytes that are not one, with the reason. */
export function badRecord(
  span: { start: number; offset: number; line: number },
  decoded: { text: string; invalid: Uint8Array | undefined },
  problem: string,
  incomplete: boolean,
): RecordSpan {
  const r: RecordSpan = { ...span, text: decoded.text, problem };
  if (decoded.invalid !== undefined) r.invalidBytes = decoded.invalid;
  if (incomplete) r.incomplete = true;
  return r;
}
