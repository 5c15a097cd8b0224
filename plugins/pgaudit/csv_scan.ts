/**
 * The byte-level state machine that finds where a csvlog record ends and checks its shape as it
 * goes: quoted fields may hold commas, doubled quotes and newlines, so a record ends only at a
 * newline outside quotes. The shape checks (the first field is a log time with milliseconds,
 * the pid is digits, the severity is upper-case, exactly `columns` fields, nothing between a
 * closing quote and the next separator) are what PostgreSQL always writes; they let the decoder
 * tell a record from garbage early, so that an unbalanced quote in damaged bytes cannot swallow
 * the good records after it.
 *
 * Only ASCII bytes (`"`, `,`, LF) matter to the structure, and no byte of a multi-byte UTF-8
 * sequence is ASCII, so scanning bytes is exact for any text and positions are byte offsets.
 * Scanning resumes where it stopped when a record arrives in pieces: each byte is looked at once.
 */

const LF = 0x0a;
const QUOTE = 0x22;
const COMMA = 0x2c;
const DASH = 0x2d;
const DOT = 0x2e;
const COLON = 0x3a;
const SPACE = 0x20;

const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
/** Just after a quote inside a quoted field: a second quote escapes it, else the field ends. */
const QUOTE_SEEN = 3;

/** Bytes a record start needs before it can be recognised: `YYYY-MM-DD HH:MM:SS.`. */
export const RECORD_START_BYTES = 20;

/** What one call to `scan` found. */
export type ScanResult = "record" | "more" | "bad";

/** Field positions of the checked columns. */
const PID = 3;
const SEVERITY = 11;

/** Scans one record at a time; `reset` before each. */
export class CsvScanner {
  readonly columns: number;
  /** Buffer index of the record's first byte. */
  start = 0;
  /** After `"record"`: the index just past the record's newline. */
  end = 0;
  /** After `"bad"`: why, and the index where it showed. */
  problem = "";
  badAt = 0;
  #p = 0;
  #state = FIELD_START;
  #field = 0;
  #fieldStart = 0;
  /** Per field, relative to the record start: where its text starts and ends, unquoted. */
  readonly #from: Int32Array;
  readonly #to: Int32Array;
  /** Per field: it has doubled quotes to undo. */
  readonly #doubled: Uint8Array;

  constructor(columns: number) {
    this.columns = columns;
    this.#from = new Int32Array(columns);
    this.#to = new Int32Array(columns);
    this.#doubled = new Uint8Array(columns);
  }

  /**
   * The fields of the record just scanned, cut from its text by the positions the scan found.
   * Only valid when the text has one character per byte (ASCII): else use `splitCsv`.
   */
  fieldsOf(text: string): string[] {
    const out = new Array<string>(this.columns);
    for (let k = 0; k < this.columns; k++) {
      const v = text.slice(this.#from[k]!, this.#to[k]!);
      out[k] = this.#doubled[k] === 1 ? v.replaceAll('""', '"') : v;
    }
    return out;
  }

  /** Starts a new record at buffer index `start`. */
  reset(start: number): void {
    this.start = start;
    this.#p = start;
    this.#fieldStart = start;
    this.#field = 0;
    this.#state = FIELD_START;
    this.#doubled.fill(0);
  }

  /** The buffer dropped its first `n` bytes: move every index with it. */
  shift(n: number): void {
    this.start -= n;
    this.#p -= n;
    this.#fieldStart -= n;
  }

  /** Scans on from where the last call stopped up to `end`. */
  scan(b: Uint8Array, end: number): ScanResult {
    let p = this.#p;
    let state = this.#state;
    while (p < end) {
      if (state === QUOTED) {
        // Quoted text is the bulk of a record (the message, a statement): jump over it.
        const q = b.indexOf(QUOTE, p);
        if (q === -1 || q >= end) {
          p = end;
          break;
        }
        p = q + 1;
        state = QUOTE_SEEN;
        continue;
      }
      if (state === FIELD_START) {
        if (b[p] === QUOTE) {
          state = QUOTED;
          p++;
          continue;
        }
        state = UNQUOTED;
      }
      let c: number;
      if (state === QUOTE_SEEN) {
        c = b[p]!;
        if (c === QUOTE) {
          this.#doubled[this.#field] = 1;
          state = QUOTED;
          p++;
          continue;
        }
        if (c !== COMMA && c !== LF) {
          return this.#bad(p, `text after the closing quote of field ${this.#field + 1}`);
        }
      } else {
        c = 0;
        while (p < end) {
          c = b[p]!;
          if (c === COMMA || c === LF || c === QUOTE) break;
          p++;
        }
        if (p === end) break;
        if (c === QUOTE) return this.#bad(p, `quote inside unquoted field ${this.#field + 1}`);
      }
      const quoted = state === QUOTE_SEEN;
      const why = this.#checkField(b, p, quoted);
      if (why !== undefined) return this.#bad(p, why);
      this.#from[this.#field] = this.#fieldStart - this.start + (quoted ? 1 : 0);
      this.#to[this.#field] = p - this.start - (quoted ? 1 : 0);
      if (c === COMMA) {
        if (++this.#field >= this.columns) {
          return this.#bad(p, `more than ${this.columns} fields`);
        }
        this.#fieldStart = p + 1;
        state = FIELD_START;
        p++;
        continue;
      }
      if (this.#field + 1 !== this.columns) {
        return this.#bad(p, `${this.#field + 1} fields, expected ${this.columns}`);
      }
      this.end = p + 1;
      this.#p = p + 1;
      this.#state = FIELD_START;
      return "record";
    }
    this.#p = p;
    this.#state = state;
    return "more";
  }

  #bad(at: number, why: string): ScanResult {
    this.badAt = at;
    this.problem = why;
    return "bad";
  }

  /** Checks the field that ends at `end`; undefined when it is as PostgreSQL writes it. */
  #checkField(b: Uint8Array, end: number, quoted: boolean): string | undefined {
    const field = this.#field;
    if (field !== 0 && field !== PID && field !== SEVERITY) return undefined;
    const from = this.#fieldStart;
    if (field === 0) {
      return !quoted && isLogTime(b, from, end) ? undefined : "the first field is not a log time";
    }
    if (field === PID) {
      return !quoted && isRun(b, from, end, 1, 10, 0x30, 0x39) ? undefined : "pid is not a number";
    }
    return !quoted && isRun(b, from, end, 3, 10, 0x41, 0x5a) ? undefined : "no severity";
  }
}

/** True when `b[i, end)` holds `len` digits. */
function digits(b: Uint8Array, i: number, len: number): boolean {
  for (let k = i; k < i + len; k++) {
    const c = b[k]!;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** True when `b[from, end)` is `min` to `max` bytes, all in `lo..hi`. */
function isRun(
  b: Uint8Array,
  from: number,
  end: number,
  min: number,
  max: number,
  lo: number,
  hi: number,
): boolean {
  const n = end - from;
  if (n < min || n > max) return false;
  for (let k = from; k < end; k++) if (b[k]! < lo || b[k]! > hi) return false;
  return true;
}

/**
 * True when `b[i, i + RECORD_START_BYTES)` reads `YYYY-MM-DD HH:MM:SS.` — how every csvlog
 * record starts. The caller makes sure those bytes are there.
 */
export function startsLikeRecord(b: Uint8Array, i: number): boolean {
  return digits(b, i, 4) && b[i + 4] === DASH && digits(b, i + 5, 2) && b[i + 7] === DASH &&
    digits(b, i + 8, 2) && b[i + 10] === SPACE && digits(b, i + 11, 2) && b[i + 13] === COLON &&
    digits(b, i + 14, 2) && b[i + 16] === COLON && digits(b, i + 17, 2) && b[i + 19] === DOT;
}

/** `YYYY-MM-DD HH:MM:SS.fff ZONE` with a zone name of 1 to 32 bytes, no spaces. */
function isLogTime(b: Uint8Array, from: number, end: number): boolean {
  if (end - from < RECORD_START_BYTES + 3 || !startsLikeRecord(b, from)) return false;
  let k = from + RECORD_START_BYTES;
  while (k < end && b[k]! >= 0x30 && b[k]! <= 0x39) k++;
  if (k === from + RECORD_START_BYTES || b[k] !== SPACE) return false;
  const zone = end - k - 1;
  return zone >= 1 && zone <= 32 && b.subarray(k + 1, end).indexOf(SPACE) === -1;
}
