/**
 * Turns decoded pgoutput messages, in stream order, into audit events and the position to store
 * with them: the transaction assembler of the WAL source.
 *
 * Each insert, update, delete, truncated table, `vigil.ddl` and other `vigil.*` message inside
 * BEGIN … COMMIT becomes one event with the transaction's xid and commit time, and
 * `source_pos` = `<commit LSN>#<index in the transaction>` (see `position.ts`). A
 * non-transactional `vigil.*` message becomes an event at once, timed by the clock since it
 * carries no time — except the source's own heartbeats, which only move the position unless
 * `storeHeartbeats` is set; messages with other prefixes are passed over and counted (outside a
 * transaction the position still moves past them, as the slot will be acked past them).
 *
 * Context rule. A `vigil.context` message is stored as a `message` event of its own (with the
 * xid) and attached as `context` (and `app_user`) to the row changes and DDL that follow it in
 * its transaction. Events are held back until COMMIT while their transaction has at most
 * `holdLimit` events and `holdBytes` characters of row data; while held, a context also reaches
 * the earlier events of its transaction that have none yet. Past either limit the held events
 * are released and the rest flow straight through, so memory stays bounded however large the
 * transaction is, and a context arriving late in a large transaction reaches only what follows
 * it — the auditor joins the rest by xid to the context event. The rule depends only on the
 * sequence of messages, so a transaction sent again after a restart gets the same result.
 *
 * Exactly once. `take()` hands over the released events with the position to store alongside
 * (the store makes both durable together) and the LSN up to which the slot may be acknowledged
 * once they are durable. Constructed with the store's last position, the assembler skips what
 * the store already holds: whole transactions committed before its end LSN, the stored part of
 * a transaction that was stored in parts, and non-transactional messages stored before.
 */

import type { NewEvent } from "../../daemon/event/model.ts";
import {
  attachContext,
  commandOf,
  type EventOrigin,
  looseEvent,
  rowChangeEvent,
  tableEvent,
  takesContext,
  txnEvent,
  type TxnInfo,
  unreadableChangeEvent,
  unreadableEvent,
} from "./change_events.ts";
import { byteaHex } from "./hex.ts";
import { formatLsn } from "./lsn.ts";
import type {
  BeginMessage,
  DecodedPayload,
  LogicalMessage,
  PgOutputMessage,
  RelationMessage,
  TruncateMessage,
} from "./pgoutput.ts";
import { parseWalPosition, START_POSITION, type WalPosition } from "./position.ts";
import { type ChangeBatch, ReleasedEvents } from "./released.ts";
import {
  appUserOf,
  CONTEXT_PREFIX,
  HEARTBEAT_PREFIX,
  isVigilPrefix,
  readVigilMessage,
  STMT_COMMAND,
} from "./vigil_messages.ts";

export type { ChangeBatch } from "./released.ts";

/** Options of {@link ChangeAssembler}. */
export interface AssemblerOptions {
  /** Name of the configured source: every event's `source`. */
  source: string;
  /** The database the slot decodes: every event's `db`. */
  db: string;
  /** The position the store last made durable for this source; undefined for a new source. */
  resume?: string | undefined;
  /** Events of one transaction held back for its context; default 1000. */
  holdLimit?: number;
  /** Characters of row data of one transaction held back for its context; default 8 Mi. */
  holdBytes?: number;
  /** µs since the epoch, for events that carry no time; default the system clock. */
  now?: () => number;
  /**
   * Store each non-transactional `vigil.heartbeat` message as an event; default false: a
   * heartbeat then only moves the stored position (the source watches for it itself).
   */
  storeHeartbeats?: boolean;
  /** Told the content of each non-transactional `vigil.heartbeat` message read. */
  onHeartbeat?: (content: Uint8Array) => void;
}

interface OpenTxn extends TxnInfo {
  /** Events with an index up to this one are already stored; -1 when none. */
  storedThrough: number;
  /** The whole transaction is already stored: build nothing. */
  stored: boolean;
  /** Events held back, indices 0…; null once released. */
  held: NewEvent[] | null;
  heldSize: number;
}

/** The stateful assembler of one replication stream; see the module documentation. */
export class ChangeAssembler {
  readonly #origin: EventOrigin;
  readonly #holdLimit: number;
  readonly #holdBytes: number;
  readonly #now: () => number;
  readonly #storeHeartbeats: boolean;
  readonly #onHeartbeat: ((content: Uint8Array) => void) | undefined;
  readonly #relations = new Map<number, RelationMessage>();
  /** What the store already holds: the resume position, then what was released before a reset. */
  #stored: WalPosition;
  readonly #released: ReleasedEvents;
  #txn: OpenTxn | null = null;
  #passedOver = 0;

  constructor(opts: AssemblerOptions) {
    this.#origin = { source: opts.source, db: opts.db };
    this.#holdLimit = opts.holdLimit ?? 1000;
    this.#holdBytes = opts.holdBytes ?? 8 * 1024 * 1024;
    this.#now = opts.now ?? (() => Date.now() * 1000);
    this.#storeHeartbeats = opts.storeHeartbeats ?? false;
    this.#onHeartbeat = opts.onHeartbeat;
    this.#stored = opts.resume === undefined
      ? { ...START_POSITION }
      : parseWalPosition(opts.resume);
    this.#released = new ReleasedEvents(this.#stored);
  }

  /** Released events not yet taken: call `take()` when this reaches a batch size. */
  get pending(): number {
    return this.#released.pending;
  }

  /** True between a Begin and its Commit. */
  get inTransaction(): boolean {
    return this.#txn !== null;
  }

  /** Messages with a prefix other than `vigil.` seen so far, which make no event. */
  get passedOver(): number {
    return this.#passedOver;
  }

  /**
   * Feeds the next payload. Throws `SyntaxError` when the stream is out of order (a change
   * outside a transaction, a commit that does not match its begin); a payload that could not be
   * decoded, or a change of an unknown relation, becomes an event with `parse_error` instead.
   */
  push(payload: DecodedPayload): void {
    const msg = payload.message;
    if (msg === null) return this.#unreadable(payload, payload.error?.message ?? "undecodable");
    switch (msg.tag) {
      case "begin":
        if (this.#txn !== null) throw this.#fail(payload, "Begin inside a transaction");
        return this.#begin(msg);
      case "commit": {
        const txn = this.#inTxn(payload, msg);
        if (msg.commitLsn !== txn.begin.finalLsn) {
          throw this.#fail(payload, `Commit of ${formatLsn(txn.begin.finalLsn)} ends at another`);
        }
        return this.#commit(txn, msg.endLsn);
      }
      case "relation":
        this.#relations.set(msg.oid, msg);
        return;
      case "type":
      case "origin":
        return;
      case "message":
        return this.#message(payload, msg);
      case "truncate":
        return this.#truncate(payload, msg);
      default: {
        const txn = this.#inTxn(payload, msg);
        if (txn.stored) return;
        const rel = this.#relation(txn, payload, msg.relation, commandOf(msg));
        if (rel === undefined) return;
        try {
          const { event, size } = rowChangeEvent(this.#origin, txn, rel, msg);
          this.#add(txn, event, size);
        } catch (error) {
          if (!(error instanceof SyntaxError)) throw error;
          const why = readError(payload, error.message);
          this.#add(txn, unreadableEvent(this.#origin, txn, payload, why, commandOf(msg)), 0);
        }
      }
    }
  }

  /** Hands over the released events with their position; undefined when nothing moved. */
  take(): ChangeBatch | undefined {
    return this.#released.take();
  }

  /**
   * Moves the position to `lsn`, up to which the server has sent everything (a keepalive seen
   * while idle), so that it becomes durable before the slot is acked there. Ignored inside a
   * transaction.
   */
  advanceIdle(lsn: bigint): void {
    if (this.#txn === null) this.#released.advance(lsn);
  }

  /**
   * Call when the replication connection was lost, before streaming again: forgets the open
   * transaction (the server sends it again) and skips, when it comes again, what was released.
   */
  reset(): void {
    this.#txn = null;
    this.#stored = this.#released.position;
  }

  #begin(begin: BeginMessage): void {
    const { ack, partial } = this.#stored;
    this.#txn = {
      begin,
      commitLsn: formatLsn(begin.finalLsn),
      next: 0,
      context: null,
      storedThrough: partial !== null && partial.commitLsn === begin.finalLsn ? partial.index : -1,
      // Commit records do not overlap: one that starts before the stored end LSN was stored.
      stored: begin.finalLsn < ack,
      held: [],
      heldSize: 0,
    };
  }

  #commit(txn: OpenTxn, endLsn: bigint): void {
    this.#txn = null;
    // Sent again but stored before: the position already covers it (and may be further on).
    if (txn.stored) return;
    if (txn.held !== null) this.#releaseHeld(txn);
    this.#released.commit(endLsn);
  }

  #truncate(payload: DecodedPayload, msg: TruncateMessage): void {
    const txn = this.#inTxn(payload, msg);
    if (txn.stored) return;
    for (const oid of msg.relations) {
      const rel = this.#relation(txn, payload, oid, "TRUNCATE");
      if (rel !== undefined) this.#add(txn, tableEvent(this.#origin, txn, rel, "TRUNCATE"), 0);
    }
  }

  #message(payload: DecodedPayload, msg: LogicalMessage): void {
    const heartbeat = msg.prefix === HEARTBEAT_PREFIX && !msg.transactional;
    if (heartbeat) this.#onHeartbeat?.(msg.content);
    if (!isVigilPrefix(msg.prefix) || (heartbeat && !this.#storeHeartbeats)) {
      if (!heartbeat) this.#passedOver++;
      // Outside a transaction nothing else records that the stream went past it.
      if (!msg.transactional && !this.#storedLoose(msg.lsn)) this.#released.passLoose(msg.lsn);
      return;
    }
    if (!msg.transactional) {
      if (this.#storedLoose(msg.lsn)) return;
      const { fields } = readVigilMessage(msg.prefix, msg.content);
      const ev = { ...looseEvent(this.#origin, msg.lsn, this.#now()), ...fields };
      return this.#released.addLoose(ev, msg.lsn);
    }
    const txn = this.#inTxn(payload, msg);
    if (txn.stored) return;
    const { fields, context } = readVigilMessage(msg.prefix, msg.content);
    const ev: NewEvent = { ...txnEvent(this.#origin, txn, fields.kind), ...fields };
    if (msg.prefix === CONTEXT_PREFIX && context !== null) {
      txn.context = context;
      // While held, the events before it that have no context yet get this one too.
      for (const held of txn.held ?? []) {
        if (held.context === undefined && takesContext(held)) attachContext(held, context);
      }
    } else if (txn.context !== null && takesContext(ev)) attachContext(ev, txn.context);
    else if (txn.context !== null && ev.command === STMT_COMMAND) {
      // A statement keeps its own context (vxid, op…); the application user still applies.
      const user = appUserOf(txn.context);
      if (user !== undefined) ev.app_user = user;
    }
    this.#add(txn, ev, msg.content.length);
  }

  #unreadable(payload: DecodedPayload, why: string): void {
    const txn = this.#txn;
    if (txn !== null) {
      if (txn.stored) return;
      // A change whose row could not be read (not UTF-8) still names its table and command.
      const change = changeOf(payload.data);
      const rel = change === undefined ? undefined : this.#relations.get(change.relation);
      const ev = change === undefined
        ? unreadableEvent(this.#origin, txn, payload, why)
        : rel === undefined
        ? unreadableEvent(this.#origin, txn, payload, why, change.command)
        : unreadableChangeEvent(this.#origin, txn, rel, change.command, {
          payload,
          parseError: why,
        });
      this.#add(txn, ev, 0);
      return;
    }
    if (this.#storedLoose(payload.lsn)) return;
    const ev = looseEvent(this.#origin, payload.lsn, this.#now());
    ev.kind = "system";
    ev.raw = byteaHex(payload.data);
    ev.parse_error = why;
    this.#released.addLoose(ev, payload.lsn);
  }

  /** The relation `oid`, or undefined after adding an unreadable event for the change. */
  #relation(
    txn: OpenTxn,
    payload: DecodedPayload,
    oid: number,
    command: string,
  ): RelationMessage | undefined {
    const rel = this.#relations.get(oid);
    if (rel !== undefined) return rel;
    const why = readError(payload, `relation ${oid} has not been described by a Relation message`);
    this.#add(txn, unreadableEvent(this.#origin, txn, payload, why, command), 0);
    return undefined;
  }

  /** Adds the transaction's next event (its index is `txn.next`), holding it back if it may. */
  #add(txn: OpenTxn, ev: NewEvent, size: number): void {
    const index = txn.next++;
    if (txn.held === null) return this.#release(txn, ev, index);
    txn.held.push(ev);
    txn.heldSize += size;
    if (txn.held.length > this.#holdLimit || txn.heldSize > this.#holdBytes) {
      this.#releaseHeld(txn);
    }
  }

  #releaseHeld(txn: OpenTxn): void {
    const held = txn.held ?? [];
    txn.held = null;
    for (let i = 0; i < held.length; i++) this.#release(txn, held[i]!, i);
  }

  #release(txn: OpenTxn, ev: NewEvent, index: number): void {
    if (index > txn.storedThrough) this.#released.add(ev, txn.begin.finalLsn, index);
  }

  /** True for a non-transactional message the store already holds. */
  #storedLoose(lsn: bigint): boolean {
    const s = this.#stored;
    return lsn < s.ack || (s.message !== null && lsn <= s.message);
  }

  #inTxn(payload: DecodedPayload, msg: PgOutputMessage): OpenTxn {
    if (this.#txn === null) throw this.#fail(payload, `${msg.tag} outside a transaction`);
    return this.#txn;
  }

  #fail(payload: DecodedPayload, why: string): SyntaxError {
    return new SyntaxError(
      `Cannot assemble pgoutput stream at LSN ${formatLsn(payload.lsn)}: ${why}`,
    );
  }
}

const CHANGE_TAGS: Readonly<Record<number, string>> = {
  0x49: "INSERT", // 'I'
  0x55: "UPDATE", // 'U'
  0x44: "DELETE", // 'D'
};

/**
 * The command and relation of an Insert, Update or Delete message whose rest could not be
 * decoded: its first byte and the relation OID after it, all they need to be.
 */
function changeOf(data: Uint8Array): { command: string; relation: number } | undefined {
  const command = CHANGE_TAGS[data[0] ?? 0];
  if (command === undefined || data.length < 5) return undefined;
  return { command, relation: new DataView(data.buffer, data.byteOffset + 1, 4).getUint32(0) };
}

function readError(payload: DecodedPayload, why: string): string {
  return `Cannot read pgoutput message at LSN ${formatLsn(payload.lsn)}: ${why}`;
}
