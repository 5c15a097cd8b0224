/**
 * Frontend messages built byte by byte for tests that must control exactly what a client
 * sends: the extended protocol's Parse, Bind, Execute, Describe and Sync, a simple Query,
 * Terminate.
 */

import { frameMessage } from "../../daemon/pgwire/backend_encode.ts";

const enc = new TextEncoder();

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function cstr(text: string): Uint8Array {
  return concat(enc.encode(text), new Uint8Array([0]));
}

function int16(v: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setInt16(0, v);
  return b;
}

function int32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v);
  return b;
}

const msg = (type: string, ...parts: Uint8Array[]): Uint8Array =>
  frameMessage(type.charCodeAt(0), concat(...parts));

/** Parse: statement name, text, parameter type OIDs. */
export function parse(name: string, sql: string, types: number[] = []): Uint8Array {
  return msg("P", cstr(name), cstr(sql), int16(types.length), ...types.map(int32));
}

/** Bind: portal, statement, per-parameter formats and values (null for NULL). */
export function bind(
  portal: string,
  statement: string,
  params: { format: 0 | 1; value: Uint8Array | null }[],
): Uint8Array {
  return msg(
    "B",
    cstr(portal),
    cstr(statement),
    int16(params.length),
    ...params.map((p) => int16(p.format)),
    int16(params.length),
    ...params.map((p) => p.value === null ? int32(-1) : concat(int32(p.value.length), p.value)),
    int16(0),
  );
}

export const execute = (portal = "", maxRows = 0): Uint8Array =>
  msg("E", cstr(portal), int32(maxRows));
export const describe = (kind: "S" | "P", name: string): Uint8Array =>
  msg("D", enc.encode(kind), cstr(name));
export const sync = (): Uint8Array => msg("S");
export const query = (sql: string): Uint8Array => msg("Q", cstr(sql));
export const terminate = (): Uint8Array => msg("X");
export const copyData = (bytes: Uint8Array): Uint8Array => msg("d", bytes);
export const copyDone = (): Uint8Array => msg("c");
export const text = (s: string): { format: 0; value: Uint8Array } => ({
  format: 0,
  value: enc.encode(s),
});
