/**
 * One face for the three log decoders, so that the tailer reads a file the same way whatever
 * its format: bytes in, named `LogRecord`s out, with the same tiling promise as `record.ts`
 * (every byte in exactly one record; `offset` is where reading resumes after a record).
 */

import { CsvLogDecoder, csvLogRecord } from "./csvlog.ts";
import { JsonLogDecoder, jsonLogRecord } from "./jsonlog.ts";
import type { LogRecord } from "./record.ts";
import { StderrLogDecoder } from "./stderr.ts";

/** The log formats PostgreSQL writes. */
export type LogFormat = "csvlog" | "jsonlog" | "stderr";

/** The formats, as the configuration names them. */
export const LOG_FORMATS: readonly LogFormat[] = ["csvlog", "jsonlog", "stderr"];

/** A decoder of one file, from a given byte offset and line on. */
export interface LogDecoder {
  /** Takes the next bytes; emits every record they complete. */
  push(chunk: Uint8Array, emit: (r: LogRecord) => void): void;
  /** The writer is at the end of the file for now (only the stderr format needs to know). */
  idle(emit: (r: LogRecord) => void): void;
  /** The file is over: what is held comes out, as bad or incomplete records. */
  end(emit: (r: LogRecord) => void): void;
}

/** Where and how to start decoding. */
export interface LogDecoderOptions {
  format: LogFormat;
  /** The file, for messages. */
  file: string;
  startOffset: number;
  startLine: number;
  /** The server's `log_line_prefix`; required for `stderr`. */
  logLinePrefix?: string | undefined;
  /** `log_error_verbosity = verbose` (stderr only). */
  verbose?: boolean | undefined;
  maxRecordBytes?: number | undefined;
}

/** A decoder for `opts.format`; throws `TypeError` for stderr without a prefix. */
export function createLogDecoder(opts: LogDecoderOptions): LogDecoder {
  const base = {
    file: opts.file,
    startOffset: opts.startOffset,
    startLine: opts.startLine,
    ...(opts.maxRecordBytes === undefined ? {} : { maxRecordBytes: opts.maxRecordBytes }),
  };
  if (opts.format === "csvlog") {
    const d = new CsvLogDecoder(base);
    return {
      push: (chunk, emit) => d.push(chunk, (r) => emit(csvLogRecord(r))),
      idle: () => {},
      end: (emit) => d.end((r) => emit(csvLogRecord(r))),
    };
  }
  if (opts.format === "jsonlog") {
    const d = new JsonLogDecoder(base);
    const file = opts.file;
    return {
      push: (chunk, emit) => d.push(chunk, (r) => emit(jsonLogRecord(r, file))),
      idle: () => {},
      end: (emit) => d.end((r) => emit(jsonLogRecord(r, file))),
    };
  }
  if (opts.logLinePrefix === undefined) {
    throw new TypeError("Cannot read a stderr log without its log_line_prefix");
  }
  const d = new StderrLogDecoder({
    ...base,
    logLinePrefix: opts.logLinePrefix,
    verbose: opts.verbose === true,
  });
  return {
    push: (chunk, emit) => d.push(chunk, emit),
    idle: (emit) => d.idle(emit),
    end: (emit) => d.end(emit),
  };
}

/** The line number after a record: its first line plus the newlines it spans. */
export function lineAfter(rec: LogRecord): number {
  let n = 0;
  const t = rec.text;
  for (let i = t.indexOf("\n"); i !== -1; i = t.indexOf("\n", i + 1)) n++;
  return rec.line + n + (rec.incomplete === true ? 0 : 1);
}
