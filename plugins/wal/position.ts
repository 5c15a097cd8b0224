/**
 * Positions in a logical replication stream, as the WAL source stores them with its events.
 *
 * An event's `source_pos` is `<commit LSN>#<index>`: the LSN of its transaction's commit record
 * and its place among the transaction's events, zero-padded to ten digits so that the events of
 * one transaction sort as text. A non-transactional message has no commit; its `source_pos` is
 * its own LSN.
 *
 * The source position stored with a batch (`AppendBatch.position`) says how far the store
 * holds the stream, in up to three parts separated by spaces:
 * - `0/16B3780` — the end LSN of the last transaction whose events are all durable. The slot
 *   may be acknowledged up to here, and every transaction whose commit record starts before it
 *   is complete in the store.
 * - `txn=0/16B9000#0000000041` — present while a large transaction is stored in parts: the
 *   `source_pos` of its last durable event. When the server sends that transaction again, the
 *   events up to and including this index are skipped.
 * - `msg=0/16B3800` — the LSN of the last durable non-transactional message past the first
 *   part, which the server sends again after a restart from there.
 * - `sys=7312345678901234567` — the system identifier of the PostgreSQL cluster the LSNs
 *   belong to (IDENTIFY_SYSTEM). LSNs of another cluster mean nothing here: a source that finds
 *   a different one raises a gap alarm instead of resuming. Positions stored before this part
 *   existed lack it, and still parse.
 */

import { formatLsn, parseLsn } from "./lsn.ts";

/** A place inside one transaction: its commit LSN and the index of one of its events. */
export interface TxnPlace {
  commitLsn: bigint;
  index: number;
}

/** How far the store holds the stream; see the module documentation. */
export interface WalPosition {
  ack: bigint;
  partial: TxnPlace | null;
  message: bigint | null;
  /** The cluster's system identifier, when known; see the module documentation. */
  system?: string;
}

/** The position of an empty store: nothing held, nothing to skip. */
export const START_POSITION: Readonly<WalPosition> = Object.freeze({
  ack: 0n,
  partial: null,
  message: null,
});

const INDEX_DIGITS = 10;
const PLACE_RE = /^([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8})#(\d{1,15})$/;

/**
 * The `source_pos` of the event at `index` in the transaction that commits at `commitLsn`
 * (an LSN, or one already formatted by `formatLsn`).
 *
 * @example
 * formatSourcePos(0x16b3748n, 3); // "0/16B3748#0000000003"
 */
export function formatSourcePos(commitLsn: bigint | string, index: number): string {
  // A formatted LSN is accepted too: an event of a large transaction should not format it again.
  const lsn = typeof commitLsn === "string" ? commitLsn : formatLsn(commitLsn);
  return `${lsn}#${String(index).padStart(INDEX_DIGITS, "0")}`;
}

/** Parses a `source_pos` of a transactional event. Throws `SyntaxError` for anything else. */
export function parseSourcePos(text: string): TxnPlace {
  const m = PLACE_RE.exec(text);
  if (m === null) {
    throw new SyntaxError(
      `Cannot parse WAL event position ${JSON.stringify(text.slice(0, 60))}: expected LSN#index`,
    );
  }
  return { commitLsn: parseLsn(m[1]!), index: Number(m[2]) };
}

/**
 * The text form of a position.
 *
 * @example
 * formatWalPosition({ ack: 0x16b3780n, partial: null, message: null }); // "0/16B3780"
 */
export function formatWalPosition(p: WalPosition): string {
  let text = formatLsn(p.ack);
  if (p.partial !== null) text += ` txn=${formatSourcePos(p.partial.commitLsn, p.partial.index)}`;
  if (p.message !== null) text += ` msg=${formatLsn(p.message)}`;
  if (p.system !== undefined) text += ` sys=${p.system}`;
  return text;
}

/** Parses the text form of a position. Throws `SyntaxError` for anything else. */
export function parseWalPosition(text: string): WalPosition {
  const parts = text.split(" ");
  const fail = (why: string): SyntaxError =>
    new SyntaxError(`Cannot parse WAL position ${JSON.stringify(text.slice(0, 100))}: ${why}`);
  let ack: bigint;
  try {
    ack = parseLsn(parts[0]!);
  } catch {
    throw fail("it must start with an LSN");
  }
  let partial: TxnPlace | null = null;
  let message: bigint | null = null;
  let system: string | undefined;
  for (const part of parts.slice(1)) {
    try {
      if (system !== undefined) {
        throw fail(`unexpected ${JSON.stringify(part)} after the system identifier`);
      } else if (part.startsWith("txn=") && partial === null && message === null) {
        partial = parseSourcePos(part.slice(4));
      } else if (part.startsWith("msg=") && message === null) {
        message = parseLsn(part.slice(4));
      } else if (/^sys=\d{1,20}$/.test(part)) {
        system = part.slice(4);
      } else {
        throw fail(`unexpected ${JSON.stringify(part)}`);
      }
    } catch (error) {
      if (error instanceof SyntaxError && !error.message.startsWith("Cannot parse WAL position")) {
        throw fail(`bad ${JSON.stringify(part)}`);
      }
      throw error;
    }
  }
  return system === undefined ? { ack, partial, message } : { ack, partial, message, system };
}
