/**
 * Decodes the messages of PostgreSQL's `pgoutput` plugin (logical replication protocol version
 * 1, or 2 without streaming) from the payload of one XLogData message, or one row of
 * `pg_logical_slot_peek_binary_changes()`.
 *
 * It promises exactness and strictness. Column values stay PostgreSQL's own text output (the
 * type's output function, what psql shows), decoded as UTF-8 and nothing else: an int8, a
 * numeric(38,10), a timestamptz with µs, a bytea or a json arrives character for character.
 * (`col::text` differs for a few types: a boolean casts to "true" but is output as "t".) The
 * server formats values with the settings of the replication session, so the connection should
 * fix `TimeZone`, `DateStyle`, `IntervalStyle`, `extra_float_digits` and `bytea_output` to keep
 * one column's text stable over time. Every length is checked against the payload before it is
 * used, and a payload must be consumed exactly, so undecodable input — truncated, padded, an
 * unknown tag, binary tuple data, a streaming message nobody asked for — throws `SyntaxError`
 * naming the message and the LSN it arrived at, and nothing else.
 *
 * The payload is read in place through a `DataView`; the only allocations are the decoded
 * values themselves.
 */

import type { PgOutputMessage, RelationColumn, TupleData } from "./pgoutput_types.ts";
import { Reader, showTag } from "./pgoutput_reader.ts";

export * from "./pgoutput_types.ts";

/** Bytes of one message as they arrived, and the WAL position they arrived at. */
export interface WalPayload {
  lsn: bigint;
  data: Uint8Array;
}

/** A payload with its decoded message, or with the reason it could not be decoded. */
export interface DecodedPayload extends WalPayload {
  message: PgOutputMessage | null;
  error: SyntaxError | null;
}

const TAG_NAMES: Readonly<Record<string, string>> = {
  B: "Begin",
  C: "Commit",
  O: "Origin",
  R: "Relation",
  Y: "Type",
  I: "Insert",
  U: "Update",
  D: "Delete",
  T: "Truncate",
  M: "Message",
};
const STREAM_TAGS = new Set(["S", "E", "c", "A"]);

/**
 * Decodes one pgoutput message. `lsn` is where it arrived (the XLogData start), used in error
 * messages only. Throws `SyntaxError` for anything that is not exactly one valid message.
 *
 * @example
 * const msg = decodePgOutput(payload, 0x16b3748n);
 * if (msg.tag === "insert") console.log(msg.relation, msg.newTuple);
 */
export function decodePgOutput(data: Uint8Array, lsn: bigint): PgOutputMessage {
  const r = new Reader(data, lsn);
  const tag = String.fromCharCode(r.u8());
  const name = TAG_NAMES[tag];
  if (name === undefined) {
    const why = STREAM_TAGS.has(tag)
      ? `streaming message ${showTag(tag)}, but streaming was not requested`
      : `unknown tag ${showTag(tag)}`;
    throw r.fail(why);
  }
  r.what = `${name} message`;
  const msg = decodeBody(r, tag);
  if (r.pos !== data.length) {
    throw r.fail(`${data.length - r.pos} bytes left over after the ${r.what}`);
  }
  return msg;
}

/** Decodes one payload without throwing for undecodable input: the error is returned instead. */
export function decodePayload(payload: WalPayload): DecodedPayload {
  try {
    const message = decodePgOutput(payload.data, payload.lsn);
    return { lsn: payload.lsn, data: payload.data, message, error: null };
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    return { lsn: payload.lsn, data: payload.data, message: null, error };
  }
}

/**
 * Decodes a stream of payloads. Undecodable ones pass through with their error, so that the
 * consumer can store them raw rather than lose them; the stream itself never errors on input.
 *
 * @example
 * payloads.pipeThrough(new PgOutputDecoderStream()).pipeTo(sink);
 */
export class PgOutputDecoderStream extends TransformStream<WalPayload, DecodedPayload> {
  constructor() {
    super({ transform: (payload, controller) => controller.enqueue(decodePayload(payload)) });
  }
}

function decodeBody(r: Reader, tag: string): PgOutputMessage {
  switch (tag) {
    case "B":
      return { tag: "begin", finalLsn: r.u64(), commitTime: r.time(), xid: r.u32() };
    case "C":
      return {
        tag: "commit",
        flags: r.u8(),
        commitLsn: r.u64(),
        endLsn: r.u64(),
        commitTime: r.time(),
      };
    case "O":
      return { tag: "origin", commitLsn: r.u64(), name: r.cstring() };
    case "R":
      return decodeRelation(r);
    case "Y":
      return { tag: "type", oid: r.u32(), namespace: r.namespace(), name: r.cstring() };
    case "I": {
      const relation = r.u32();
      r.expect("N", "new tuple");
      return { tag: "insert", relation, newTuple: r.tuple() };
    }
    case "U":
      return decodeUpdate(r);
    case "D": {
      const relation = r.u32();
      const oldKind = r.oldKind(r.u8());
      if (oldKind === null) throw r.fail(`expected "K" or "O" before the old tuple`);
      return { tag: "delete", relation, oldKind, oldTuple: r.tuple() };
    }
    case "T":
      return decodeTruncate(r);
    default: // "M"; the tag was checked against TAG_NAMES.
      return {
        tag: "message",
        transactional: (r.u8() & 1) === 1,
        lsn: r.u64(),
        prefix: r.cstring(),
        content: r.bytes(r.length("content")).slice(),
      };
  }
}

function decodeRelation(r: Reader): PgOutputMessage {
  const oid = r.u32();
  const namespace = r.namespace();
  const name = r.cstring();
  const replicaIdentity = String.fromCharCode(r.u8());
  const count = r.count(r.u16(), 10, "columns");
  const columns: RelationColumn[] = [];
  for (let i = 0; i < count; i++) {
    const key = (r.u8() & 1) === 1;
    columns.push({ key, name: r.cstring(), typeOid: r.u32(), typmod: r.i32() });
  }
  return { tag: "relation", oid, namespace, name, replicaIdentity, columns };
}

function decodeUpdate(r: Reader): PgOutputMessage {
  const relation = r.u32();
  const next = r.u8();
  const oldKind = r.oldKind(next);
  let oldTuple: TupleData | null = null;
  if (oldKind !== null) {
    oldTuple = r.tuple();
    r.expect("N", "new tuple");
  } else if (next !== 0x4e) {
    throw r.fail(`expected "K", "O" or "N", got ${showTag(String.fromCharCode(next))}`);
  }
  return { tag: "update", relation, oldKind, oldTuple, newTuple: r.tuple() };
}

function decodeTruncate(r: Reader): PgOutputMessage {
  const n = r.count(r.u32(), 4, "relations");
  const options = r.u8();
  const relations: number[] = [];
  for (let i = 0; i < n; i++) relations.push(r.u32());
  return {
    tag: "truncate",
    cascade: (options & 1) !== 0,
    restartIdentity: (options & 2) !== 0,
    relations,
  };
}
