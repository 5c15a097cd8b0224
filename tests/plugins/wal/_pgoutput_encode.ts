/**
 * Writes pgoutput messages (protocol version 1) for unit tests that need a message PostgreSQL
 * would not send on request: an exact layout, a broken one, a transaction of a million rows
 * without a server. The layouts follow the protocol documentation; `pgoutput_fixture_test.ts`
 * shows the decoder agrees with the real server on the same layouts.
 */

import { parseLsn } from "../../../plugins/wal/lsn.ts";
import type { DecodedPayload, TupleData } from "../../../plugins/wal/pgoutput.ts";
import { decodePayload, UNCHANGED_TOAST } from "../../../plugins/wal/pgoutput.ts";

const PG_EPOCH_US = 946_684_800_000_000n;
const encoder = new TextEncoder();

/** Builds one message from parts: numbers as the given width, strings NUL-terminated. */
export class Bytes {
  #parts: number[] = [];

  u8(...v: number[]): this {
    this.#parts.push(...v);
    return this;
  }
  tag(char: string): this {
    return this.u8(char.charCodeAt(0));
  }
  u16(v: number): this {
    return this.u8((v >>> 8) & 255, v & 255);
  }
  u32(v: number): this {
    return this.u8((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  }
  u64(v: bigint): this {
    return this.u32(Number((v >> 32n) & 0xffffffffn)).u32(Number(v & 0xffffffffn));
  }
  /** A time in µs since the Unix epoch, written as PostgreSQL's µs since 2000-01-01. */
  time(us: number): this {
    return this.u64(BigInt.asUintN(64, BigInt(us) - PG_EPOCH_US));
  }
  cstring(s: string): this {
    return this.u8(...encoder.encode(s), 0);
  }
  bytes(b: Uint8Array): this {
    return this.u8(...b);
  }
  tuple(values: TupleData): this {
    this.u16(values.length);
    for (const v of values) {
      if (v === null) this.tag("n");
      else if (v === UNCHANGED_TOAST) this.tag("u");
      else {
        const b = encoder.encode(v);
        this.tag("t").u32(b.length).bytes(b);
      }
    }
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }
}

/** A column of {@link relation}: `[name, key?]`. */
export type ColumnSpec = [name: string, key?: boolean];

export function begin(finalLsn: string, commitUs: number, xid: number): Uint8Array {
  return new Bytes().tag("B").u64(parseLsn(finalLsn)).time(commitUs).u32(xid).done();
}

export function commit(commitLsn: string, endLsn: string, commitUs: number): Uint8Array {
  return new Bytes().tag("C").u8(0).u64(parseLsn(commitLsn)).u64(parseLsn(endLsn)).time(commitUs)
    .done();
}

export function relation(
  oid: number,
  namespace: string,
  name: string,
  columns: ColumnSpec[],
  identity = "d",
): Uint8Array {
  const b = new Bytes().tag("R").u32(oid).cstring(namespace).cstring(name).tag(identity);
  b.u16(columns.length);
  for (const [col, key] of columns) b.u8(key ? 1 : 0).cstring(col).u32(25).u32(0xffffffff);
  return b.done();
}

export function insert(oid: number, row: TupleData): Uint8Array {
  return new Bytes().tag("I").u32(oid).tag("N").tuple(row).done();
}

export function update(
  oid: number,
  row: TupleData,
  old?: { kind: "K" | "O"; row: TupleData },
): Uint8Array {
  const b = new Bytes().tag("U").u32(oid);
  if (old) b.tag(old.kind).tuple(old.row);
  return b.tag("N").tuple(row).done();
}

export function remove(oid: number, kind: "K" | "O", row: TupleData): Uint8Array {
  return new Bytes().tag("D").u32(oid).tag(kind).tuple(row).done();
}

export function truncate(oids: number[], options = 0): Uint8Array {
  const b = new Bytes().tag("T").u32(oids.length).u8(options);
  for (const oid of oids) b.u32(oid);
  return b.done();
}

export function message(
  transactional: boolean,
  lsn: string,
  prefix: string,
  content: string | Uint8Array,
): Uint8Array {
  const body = typeof content === "string" ? encoder.encode(content) : content;
  return new Bytes().tag("M").u8(transactional ? 1 : 0).u64(parseLsn(lsn)).cstring(prefix)
    .u32(body.length).bytes(body).done();
}

/** Decodes `data` as if it arrived at `lsn`, for feeding an assembler. */
export function at(lsn: string, data: Uint8Array): DecodedPayload {
  return decodePayload({ lsn: parseLsn(lsn), data });
}
