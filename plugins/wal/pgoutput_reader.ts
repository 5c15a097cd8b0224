/**
 * The byte cursor of the pgoutput decoder: reads the protocol's big-endian integers,
 * PostgreSQL timestamps, C strings and tuple data in place from one payload, checking before
 * every read that the bytes are there, and fails with a `SyntaxError` that names the message
 * and the LSN it arrived at.
 */

import { formatLsn } from "./lsn.ts";
import { type OldTupleKind, type TupleData, UNCHANGED_TOAST } from "./pgoutput_types.ts";

/** µs from the Unix epoch to PostgreSQL's, 2000-01-01. */
const PG_EPOCH_US = 946_684_800_000_000;
/** Past ±2^52 µs a PostgreSQL time plus the epoch shift would no longer be an exact number. */
const MAX_TIME_HI = 1 << 20;

/** Up to this many bytes, ASCII text is read without a TextDecoder. */
const SHORT_TEXT = 64;
const codes: number[] = [];

// ignoreBOM: a text value that starts with U+FEFF must keep it.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A cursor over one payload; every read checks the bytes are there. */
export class Reader {
  pos = 0;
  what = "message";
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #lsn: bigint;

  constructor(bytes: Uint8Array, lsn: bigint) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#lsn = lsn;
  }

  /** The error to throw for this payload: says where it arrived and `why` it is undecodable. */
  fail(why: string): SyntaxError {
    return new SyntaxError(`Cannot decode pgoutput message at LSN ${safeLsn(this.#lsn)}: ${why}`);
  }

  u8(): number {
    this.#need(1);
    return this.#bytes[this.pos++]!;
  }

  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  i32(): number {
    this.#need(4);
    const v = this.#view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.#need(8);
    const v = this.#view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }

  /** A PostgreSQL timestamp (µs since 2000-01-01) as µs since the Unix epoch, exactly. */
  time(): number {
    this.#need(8);
    const hi = this.#view.getInt32(this.pos);
    const lo = this.#view.getUint32(this.pos + 4);
    if (hi >= MAX_TIME_HI || hi < -MAX_TIME_HI) {
      throw this.fail(`time at byte ${this.pos} of the ${this.what} is out of range`);
    }
    this.pos += 8;
    return hi * 0x1_0000_0000 + lo + PG_EPOCH_US;
  }

  /** An Int32 byte count, checked against what is left. */
  length(what: string): number {
    const at = this.pos;
    const n = this.i32();
    if (n < 0) throw this.fail(`negative length ${n} of the ${what} at byte ${at}`);
    return n;
  }

  /** A count of items of at least `minSize` bytes each, checked so that no loop can run long. */
  count(n: number, minSize: number, what: string): number {
    if (n * minSize > this.#bytes.length - this.pos) {
      throw this.fail(`${n} ${what} cannot fit in the ${this.#bytes.length - this.pos} bytes left`);
    }
    return n;
  }

  bytes(n: number): Uint8Array {
    this.#need(n);
    const out = this.#bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  cstring(): string {
    const end = this.#bytes.indexOf(0, this.pos);
    if (end < 0) throw this.fail(`string at byte ${this.pos} of the ${this.what} has no end`);
    const text = this.#text(this.pos, end);
    this.pos = end + 1;
    return text;
  }

  namespace(): string {
    return this.cstring() || "pg_catalog";
  }

  expect(char: string, what: string): void {
    const at = this.pos;
    const got = String.fromCharCode(this.u8());
    if (got !== char) {
      throw this.fail(
        `expected ${showTag(char)} before the ${what} at byte ${at}, got ${showTag(got)}`,
      );
    }
  }

  oldKind(byte: number): OldTupleKind | null {
    return byte === 0x4b ? "key" : byte === 0x4f ? "old" : null;
  }

  tuple(): TupleData {
    const n = this.count(this.u16(), 1, "tuple columns");
    const out: TupleData = [];
    for (let i = 0; i < n; i++) {
      const kind = this.u8();
      if (kind === 0x74) { // 't'
        const len = this.length(`value of column ${i}`);
        this.#need(len);
        out.push(this.#text(this.pos, this.pos + len));
        this.pos += len;
      } else if (kind === 0x6e) out.push(null); // 'n'
      else if (kind === 0x75) out.push(UNCHANGED_TOAST); // 'u'
      else if (kind === 0x62) throw this.fail(`column ${i} is binary, which was not requested`);
      else throw this.fail(`unknown kind ${showTag(String.fromCharCode(kind))} of column ${i}`);
    }
    return out;
  }

  #text(start: number, end: number): string {
    // Most values are short ASCII (numbers, times, codes), and a TextDecoder call costs more
    // than building those from char codes: 3× on 100k real inserts, stored as JSON after.
    // One reused array and one fromCharCode call give a flat string (concatenating a char at a
    // time makes a chain that JSON.stringify must flatten later, which costs more still).
    const n = end - start;
    if (n <= SHORT_TEXT) {
      const bytes = this.#bytes;
      codes.length = n;
      let i = 0;
      for (; i < n; i++) {
        const b = bytes[start + i]!;
        if (b > 0x7f) break;
        codes[i] = b;
      }
      if (i === n) return String.fromCharCode.apply(null, codes);
    }
    try {
      return utf8.decode(this.#bytes.subarray(start, end));
    } catch (error) {
      throw this.fail(`text at byte ${start} of the ${this.what} is not UTF-8 (${error})`);
    }
  }

  #need(n: number): void {
    if (this.pos + n > this.#bytes.length) {
      throw this.fail(
        `${this.what} ends at byte ${this.#bytes.length}, ${n} more needed at byte ${this.pos}`,
      );
    }
  }
}

/** A tag byte for a message: `"Z"` when printable, else its hex value. */
export function showTag(tag: string): string {
  return /^[\x21-\x7e]$/.test(tag) ? JSON.stringify(tag) : `0x${tag.charCodeAt(0).toString(16)}`;
}

function safeLsn(lsn: bigint): string {
  try {
    return formatLsn(lsn);
  } catch {
    return String(lsn);
  }
}
