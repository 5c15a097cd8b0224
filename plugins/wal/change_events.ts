/**
 * Builds the events of the WAL source from decoded pgoutput messages: the fields every event of
 * a transaction shares (commit time, xid, `source_pos`), row changes with their row images,
 * truncated tables, and the raw stand-ins for a message or a change that could not be read. The
 * transaction assembler (`changes.ts`) decides which events to build and when to release them.
 */

import type { JsonObject, NewEvent } from "../../daemon/event/model.ts";
import { byteaHex } from "./hex.ts";
import { qualifiedName } from "./ident.ts";
import { formatLsn } from "./lsn.ts";
import type {
  BeginMessage,
  DeleteMessage,
  InsertMessage,
  RelationMessage,
  UpdateMessage,
  WalPayload,
} from "./pgoutput.ts";
import { formatSourcePos } from "./position.ts";
import { rowImage } from "./rows.ts";
import { appUserOf } from "./vigil_messages.ts";

/** What every event of one stream shares. */
export interface EventOrigin {
  source: string;
  db: string;
}

/** The open transaction, as far as its events need it. */
export interface TxnInfo {
  begin: BeginMessage;
  /** `begin.finalLsn` formatted, for the `source_pos` of each event. */
  commitLsn: string;
  /** Index of the next event in the transaction. */
  next: number;
  /** The last `vigil.context` of the transaction so far. */
  context: JsonObject | null;
}

/** A row change event and the approximate size of its rows, in characters. */
export interface SizedEvent {
  event: NewEvent;
  size: number;
}

const COMMANDS = { insert: "INSERT", update: "UPDATE", delete: "DELETE" } as const;

/** The next event of a transaction: commit time, xid and `source_pos`, nothing else yet. */
export function txnEvent(o: EventOrigin, txn: TxnInfo, kind: NewEvent["kind"]): NewEvent {
  const b = txn.begin;
  return {
    ts: b.commitTime,
    source: o.source,
    source_pos: formatSourcePos(txn.commitLsn, txn.next),
    kind,
    db: o.db,
    xid: b.xid,
  };
}

/** An event outside any transaction, at `lsn`, timed `ts` (it carries no time of its own). */
export function looseEvent(o: EventOrigin, lsn: bigint, ts: number): NewEvent {
  return { ts, source: o.source, source_pos: formatLsn(lsn), kind: "message", db: o.db };
}

/** The event of one truncated table, or the first part of a row change. */
export function tableEvent(
  o: EventOrigin,
  txn: TxnInfo,
  rel: RelationMessage,
  command: string,
): NewEvent {
  const ev = txnEvent(o, txn, "row_change");
  ev.schema = rel.namespace;
  ev.object = qualifiedName(rel.namespace, rel.name);
  ev.object_type = "TABLE";
  ev.command = command;
  if (txn.context !== null) attachContext(ev, txn.context);
  return ev;
}

/**
 * The event of an insert, update or delete of `rel`. Throws `SyntaxError` when a row does not
 * fit the relation.
 */
export function rowChangeEvent(
  o: EventOrigin,
  txn: TxnInfo,
  rel: RelationMessage,
  msg: InsertMessage | UpdateMessage | DeleteMessage,
): SizedEvent {
  const event = tableEvent(o, txn, rel, COMMANDS[msg.tag]);
  let size = 0;
  if (msg.tag !== "insert" && msg.oldTuple !== null) {
    const old = rowImage(rel, msg.oldTuple, msg.oldKind === "key");
    event.old_row = old.row;
    size += old.size;
  }
  if (msg.tag !== "delete") {
    const img = rowImage(rel, msg.newTuple, false);
    event.new_row = img.row;
    size += img.size;
  }
  return { event, size };
}

/** The SQL command of a change message, for an event about it. */
export function commandOf(msg: InsertMessage | UpdateMessage | DeleteMessage): string {
  return COMMANDS[msg.tag];
}

/**
 * The stand-in for a message of a transaction that could not be read: its bytes in `raw` (as
 * bytea hex) and the reason in `parse_error`, so that nothing is dropped silently.
 */
export function unreadableEvent(
  o: EventOrigin,
  txn: TxnInfo,
  payload: WalPayload,
  parseError: string,
  command?: string,
): NewEvent {
  const ev = txnEvent(o, txn, command === undefined ? "system" : "row_change");
  if (command !== undefined) {
    ev.command = command;
    if (txn.context !== null) attachContext(ev, txn.context);
  }
  ev.raw = byteaHex(payload.data);
  ev.parse_error = parseError;
  return ev;
}

/**
 * The stand-in for a change of `rel` that could not be read (text that is not UTF-8, in a
 * database of another encoding): still the `row_change` of its table and command, so that a
 * search by either finds it, with its bytes in `raw` and the reason in `parse_error`.
 */
export function unreadableChangeEvent(
  o: EventOrigin,
  txn: TxnInfo,
  rel: RelationMessage,
  command: string,
  unread: { payload: WalPayload; parseError: string },
): NewEvent {
  const ev = tableEvent(o, txn, rel, command);
  ev.raw = byteaHex(unread.payload.data);
  ev.parse_error = unread.parseError;
  return ev;
}

/** Sets an event's `context`, and its `app_user` when the context names one. */
export function attachContext(ev: NewEvent, context: JsonObject): void {
  ev.context = context;
  const user = appUserOf(context);
  if (user !== undefined) ev.app_user = user;
}

/** True for the events a transaction's context is attached to: row changes and DDL. */
export function takesContext(ev: NewEvent): boolean {
  return ev.kind === "row_change" || ev.kind === "ddl";
}
