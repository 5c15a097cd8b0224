/**
 * Decodes JSON lines (one event object a line, as `vigil ingest` reads them from stdin) into
 * validated events. Every non-blank line yields exactly one result, an event or an error with
 * its 1-based line number, so the caller can store or count what could not be read instead of
 * dropping it. Nothing in the input makes the stream itself fail.
 *
 * Lines end in LF or CRLF; the last one needs no newline; a UTF-8 byte order mark at the very
 * start is skipped. Memory holds one line at a time, and each line is joined from its chunks
 * once, so multi-megabyte lines cost linear time. A line over `maxLineBytes` is skipped to its
 * end without being kept and reported as an error. Numbers are read exactly
 * (`json_exact.ts`): one a double would round, past 2^53 say, is kept as its digits' string.
 */

import { parseJsonExact } from "./json_exact.ts";
import type { NewEvent } from "./model.ts";
import {
  EventLimitError,
  EventValidationError,
  validateEvent,
  type ValidateOptions,
} from "./validate.ts";

/** One decoded line: an event or why the line is not one. */
export type JsonLine =
  | { line: number; event: NewEvent }
  /** `raw` is the line's text (invalid UTF-8 replaced by U+FFFD), unless it was too long. */
  | { line: number; error: string; raw?: string };

/** Options of a `JsonLinesStream`. */
export interface JsonLinesOptions {
  /** Source name given to every event (the CLI's `--source`). */
  source: string;
  /** Ingest time in µs since the epoch, read once per line; default the system clock. */
  clock?: () => number;
  /** Longest line in bytes, without its newline; default 64 MiB. */
  maxLineBytes?: number;
  /** Limit per text or JSON field, passed to `validateEvent`; default 16 MiB. */
  maxFieldBytes?: number;
}

/** Default `maxLineBytes`: room for a maximal statement and raw record with JSON escaping. */
export const DEFAULT_MAX_LINE_BYTES: number = 64 * 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lossy = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * A `TransformStream` from bytes to one `JsonLine` per non-blank input line.
 *
 * @example
 * for await (const r of Deno.stdin.readable.pipeThrough(new JsonLinesStream({ source: "app" }))) {
 *   if ("event" in r) batch.push(r.event);
 *   else console.error(`line ${r.line}: ${r.error}`);
 * }
 */
export class JsonLinesStream extends TransformStream<Uint8Array, JsonLine> {
  constructor(opts: JsonLinesOptions) {
    const decoder = new LineDecoder(opts);
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

/** Splits bytes into lines and decodes each; the state machine behind `JsonLinesStream`. */
class LineDecoder {
  readonly #source: string;
  readonly #clock: () => number;
  readonly #maxLine: number;
  readonly #maxField: number | undefined;
  /** Copies of the chunk tails that make up the unfinished line. */
  #parts: Uint8Array[] = [];
  #partBytes = 0;
  /** The unfinished line is over the limit: its bytes are being skipped. */
  #overlong = false;
  #line = 0;

  constructor(opts: JsonLinesOptions) {
    if (typeof opts.source !== "string" || opts.source === "") {
      throw new TypeError("Cannot read JSON lines: source must be a non-empty string");
    }
    const maxLine = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (!Number.isSafeInteger(maxLine) || maxLine <= 0) {
      throw new TypeError(
        `Cannot read JSON lines: maxLineBytes ${maxLine} is not a positive integer`,
      );
    }
    this.#source = opts.source;
    this.#clock = opts.clock ?? (() => Date.now() * 1000);
    this.#maxLine = maxLine;
    this.#maxField = opts.maxFieldBytes;
  }

  push(chunk: Uint8Array, emit: (r: JsonLine) => void): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(LF, start);
      if (nl === -1) {
        this.#keep(chunk.subarray(start));
        return;
      }
      if (this.#parts.length === 0 && !this.#overlong) {
        // The whole line is inside this chunk: decode it in place, without copying.
        this.#finish(chunk.subarray(start, nl), emit);
      } else {
        this.#keep(chunk.subarray(start, nl));
        this.#finish(this.#take(), emit);
      }
      start = nl + 1;
    }
  }

  end(emit: (r: JsonLine) => void): void {
    if (this.#parts.length > 0 || this.#overlong) this.#finish(this.#take(), emit);
  }

  #keep(piece: Uint8Array): void {
    if (this.#overlong || piece.length === 0) return;
    if (this.#partBytes + piece.length > this.#maxLine + 1) {
      // One byte of slack keeps a trailing CR of a line exactly at the limit.
      this.#overlong = true;
      this.#parts = [];
      this.#partBytes = 0;
      return;
    }
    // A copy: the producer may reuse its chunk buffers once `transform` returns.
    this.#parts.push(piece.slice());
    this.#partBytes += piece.length;
  }

  #take(): Uint8Array {
    const parts = this.#parts;
    let line: Uint8Array;
    if (parts.length === 1) line = parts[0]!;
    else {
      line = new Uint8Array(this.#partBytes);
      let at = 0;
      for (const p of parts) {
        line.set(p, at);
        at += p.length;
      }
    }
    this.#parts = [];
    this.#partBytes = 0;
    return line;
  }

  #finish(bytes: Uint8Array, emit: (r: JsonLine) => void): void {
    const line = ++this.#line;
    if (this.#overlong) {
      this.#overlong = false;
      emit({ line, error: `line is longer than the limit of ${this.#maxLine} bytes` });
      return;
    }
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === CR) end--;
    let start = 0;
    if (line === 1 && end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      start = 3;
    }
    if (end - start > this.#maxLine) {
      emit({ line, error: `line is longer than the limit of ${this.#maxLine} bytes` });
      return;
    }
    if (isBlank(bytes, start, end)) return;
    emit(this.#decode(line, bytes.subarray(start, end)));
  }

  #decode(line: number, bytes: Uint8Array): JsonLine {
    let text: string;
    try {
      text = strict.decode(bytes);
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
      return { line, error: "not valid UTF-8", raw: lossy.decode(bytes) };
    }
    let value: unknown;
    try {
      value = parseJsonExact(text);
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      return { line, error: `not valid JSON: ${e.message}`, raw: text };
    }
    const opts: ValidateOptions = { source: this.#source, ingestTs: this.#clock() };
    if (this.#maxField !== undefined) opts.maxFieldBytes = this.#maxField;
    try {
      return { line, event: validateEvent(value, opts) };
    } catch (e) {
      if (e instanceof EventValidationError || e instanceof EventLimitError) {
        return { line, error: e.message, raw: text };
      }
      throw e;
    }
  }
}

/** True for a line of JSON white space only (space, tab, CR). */
function isBlank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b !== 0x20 && b !== 0x09 && b !== CR) return false;
  }
  return true;
}
