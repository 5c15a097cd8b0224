/**
 * The bytes of a spool file and the names and positions around them. A file is a 16-byte header
 * (the magic, then where the file before it ended: its generation and end offset, so that
 * records lost from an older file are told from a tail cut by a stop) followed by records, each one batch of events as JSON behind a header
 * (`[u32 LE crc32c][u32 LE length][u32 LE generation][JSON array of events]`, the CRC-32C over
 * all after it), so that a record torn by a stop mid-write, or rotted since, is told from a
 * whole one before it is parsed. Files are written over ground already on disk (zeros, or an
 * older file's records: see `spool.ts`), which is why each record names its generation: the
 * first record of another generation, or zeros, is where the file's records end. Files are
 * named by generation (`000000000042.spool`), and a record's position — what the store keeps
 * for the source once the record is stored — is `spool:<generation>:<offset of the record's
 * end>`, which orders every record of every file.
 */

import type { NewEvent } from "../event/model.ts";
import { crc32c } from "../store/crc32c.ts";

/** The first bytes of every spool file. */
export const SPOOL_MAGIC = new TextEncoder().encode("VIGILSP1");
/** The magic, the generation before and the end of its records. */
export const FILE_HEADER = 16;
/** CRC, length and generation before each record's JSON. */
export const RECORD_HEADER = 12;
/** A record's JSON at most: bigger is damage, not a batch. */
export const MAX_RECORD = 512 * 1024 * 1024;

/** A record read back: its events and where it ends in its file. */
export interface SpoolRecord {
  events: NewEvent[];
  end: number;
  /** Its bytes in the file, header included. */
  bytes: number;
}

/** A record on disk with its place, on its way to the store. */
export interface PlacedRecord {
  events: NewEvent[];
  pos: SpoolPosition;
  /** Its bytes in the file, header included. */
  bytes: number;
}

/** What a file held: its whole records, and what could not be read after them. */
export interface SpoolScan {
  /** Where the file before this one ended, as it said when this one was started. */
  before: SpoolPosition;
  records: SpoolRecord[];
  /** The end of the last whole record (the magic's end if none). */
  end: number;
  /** Why reading stopped at a record of its own generation that is not whole, if it did. */
  stop?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A file's header: the magic, and where the file of generation `before.gen` ended. */
export function encodeFileHeader(before: SpoolPosition): Uint8Array {
  const out = new Uint8Array(FILE_HEADER);
  out.set(SPOOL_MAGIC);
  const view = new DataView(out.buffer);
  view.setUint32(8, before.gen, true);
  view.setUint32(12, before.offset, true);
  return out;
}

/** The JSON of a record of `events`. */
export function encodeEvents(events: readonly NewEvent[]): Uint8Array {
  return encoder.encode(JSON.stringify(events));
}

/** Writes the record of `json` for generation `gen` into `out` at `at`; returns its end. */
export function putRecord(out: Uint8Array, at: number, json: Uint8Array, gen: number): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(at + 4, json.length, true);
  view.setUint32(at + 8, gen, true);
  out.set(json, at + RECORD_HEADER);
  const end = at + RECORD_HEADER + json.length;
  view.setUint32(at, crc32c(out, at + 4, end), true);
  return end;
}

/**
 * Reads the records of generation `gen` in a spool file's bytes, in order, up to zeros or a
 * record of another generation; one of its own that is not whole stops it too, said in `stop`
 * with its offset. Throws if the file does not start with the magic.
 */
export function scanSpool(bytes: Uint8Array, file: string, gen: number): SpoolScan {
  if (bytes.length < FILE_HEADER || !SPOOL_MAGIC.every((b, i) => bytes[i] === b)) {
    throw new SyntaxError(`Spool file ${file} does not start with a spool file's header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const before = { gen: view.getUint32(8, true), offset: view.getUint32(12, true) };
  const records: SpoolRecord[] = [];
  let at = FILE_HEADER;
  while (at < bytes.length) {
    if (at + RECORD_HEADER > bytes.length) {
      const tail = bytes.subarray(at);
      if (tail.every((b) => b === 0)) break;
      return { before, records, end: at, stop: `a record header is cut at offset ${at}` };
    }
    const crc = view.getUint32(at, true);
    const length = view.getUint32(at + 4, true);
    const recordGen = view.getUint32(at + 8, true);
    // Zeros, or an older file's record under this one's: the end of this generation's.
    if (recordGen !== gen || (crc === 0 && length === 0)) break;
    const start = at + RECORD_HEADER;
    if (length === 0 || length > MAX_RECORD || start + length > bytes.length) {
      return {
        before,
        records,
        end: at,
        stop: `the record at offset ${at} claims ${length} bytes, ${bytes.length - start} follow`,
      };
    }
    if (crc32c(bytes, at + 4, start + length) !== crc) {
      return { before, records, end: at, stop: `the record at offset ${at} fails its checksum` };
    }
    let events: NewEvent[];
    try {
      events = JSON.parse(decoder.decode(bytes.subarray(start, start + length)));
      if (!Array.isArray(events)) throw new TypeError("not an array of events");
    } catch (error) {
      return {
        before,
        records,
        end: at,
        stop: `the record at offset ${at} is not events: ${(error as Error).message}`,
      };
    }
    at = start + length;
    records.push({ events, end: at, bytes: RECORD_HEADER + length });
  }
  return { before, records, end: at };
}

/** The file name of generation `gen`. */
export function spoolName(gen: number): string {
  return `${String(gen).padStart(12, "0")}.spool`;
}

/** The generation a file name holds, or null for any other name. */
export function parseSpoolName(name: string): number | null {
  const m = /^(\d{12})\.spool$/.exec(name);
  return m === null ? null : Number(m[1]);
}

/** A place in the spool: a record's generation and end offset. */
export interface SpoolPosition {
  gen: number;
  offset: number;
}

/** The position a store keeps for a stored record. */
export function formatPosition(p: SpoolPosition): string {
  return `spool:${p.gen}:${p.offset}`;
}

/** A stored position as a spool position, or undefined for any other (or none). */
export function parsePosition(position: string | undefined): SpoolPosition | undefined {
  const m = position === undefined ? null : /^spool:(\d+):(\d+)$/.exec(position);
  return m === null ? undefined : { gen: Number(m[1]), offset: Number(m[2]) };
}

/** Whether `a` comes after `b`. */
export function after(a: SpoolPosition, b: SpoolPosition | undefined): boolean {
  return b === undefined || a.gen > b.gen || (a.gen === b.gen && a.offset > b.offset);
}
