/**
 * The bytes of a spool file and the names and positions around them. A file is an 8-byte magic
 * followed by records, each one batch of events as JSON behind its length and CRC-32C
 * (`[u32 LE length][u32 LE crc32c][JSON array of events]`), so that a record torn by a stop
 * mid-write, or rotted since, is told from a whole one before it is parsed. Files are named by
 * generation (`000000000042.spool`), and a record's position — what the store keeps for the
 * source once the record is stored — is `spool:<generation>:<offset of the record's end>`, which
 * orders every record of every file.
 */

import type { NewEvent } from "../event/model.ts";
import { crc32c } from "../store/crc32c.ts";

/** The first bytes of every spool file. */
export const SPOOL_MAGIC = new TextEncoder().encode("VIGILSP1");
/** Length and CRC before each record's JSON. */
export const RECORD_HEADER = 8;
/** A record's JSON at most: bigger is damage, not a batch. */
export const MAX_RECORD = 512 * 1024 * 1024;

/** A record read back: its events and where it ends in its file. */
export interface SpoolRecord {
  events: NewEvent[];
  end: number;
  /** Its bytes in the file, header included. */
  bytes: number;
}

/** What a file held: its whole records, and what could not be read after them. */
export interface SpoolScan {
  records: SpoolRecord[];
  /** The end of the last whole record (the magic's end if none). */
  end: number;
  /** Why reading stopped before the file's end, if it did. */
  stop?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** One record of `events`, ready to append. */
export function encodeRecord(events: readonly NewEvent[]): Uint8Array {
  const json = encoder.encode(JSON.stringify(events));
  const out = new Uint8Array(RECORD_HEADER + json.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length, true);
  view.setUint32(4, crc32c(json), true);
  out.set(json, RECORD_HEADER);
  return out;
}

/**
 * Reads the records of a spool file's bytes in order, stopping at the first that is not whole
 * (said in `stop`, with its offset). Throws if the file does not start with the magic.
 */
export function scanSpool(bytes: Uint8Array, file: string): SpoolScan {
  if (bytes.length < SPOOL_MAGIC.length || !SPOOL_MAGIC.every((b, i) => bytes[i] === b)) {
    // A file cut before its magic was synced held no acknowledged record.
    if (bytes.length < SPOOL_MAGIC.length && bytes.every((b, i) => b === SPOOL_MAGIC[i])) {
      return { records: [], end: bytes.length, stop: `it ends inside its header` };
    }
    throw new SyntaxError(`Spool file ${file} does not start with ${"VIGILSP1"}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: SpoolRecord[] = [];
  let at = SPOOL_MAGIC.length;
  while (at < bytes.length) {
    if (at + RECORD_HEADER > bytes.length) {
      return { records, end: at, stop: `a record header is cut at offset ${at}` };
    }
    const length = view.getUint32(at, true);
    const crc = view.getUint32(at + 4, true);
    const start = at + RECORD_HEADER;
    if (length === 0 || length > MAX_RECORD || start + length > bytes.length) {
      return {
        records,
        end: at,
        stop: `the record at offset ${at} claims ${length} bytes, ${bytes.length - start} follow`,
      };
    }
    if (crc32c(bytes, start, start + length) !== crc) {
      return { records, end: at, stop: `the record at offset ${at} fails its checksum` };
    }
    let events: NewEvent[];
    try {
      events = JSON.parse(decoder.decode(bytes.subarray(start, start + length)));
      if (!Array.isArray(events)) throw new TypeError("not an array of events");
    } catch (error) {
      return {
        records,
        end: at,
        stop: `the record at offset ${at} is not events: ${(error as Error).message}`,
      };
    }
    at = start + length;
    records.push({ events, end: at, bytes: RECORD_HEADER + length });
  }
  return { records, end: at };
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
