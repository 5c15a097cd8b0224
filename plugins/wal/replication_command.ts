/**
 * Text of the replication commands, with quoting done once and right. The replication grammar
 * takes identifiers in double quotes and option values as standard string literals (a quote
 * doubled, backslash not special); pgoutput then splits `publication_names` as a list of
 * identifiers, so each publication name is quoted as an identifier inside the literal.
 */
import { formatLsn } from "./lsn.ts";

/** What `START_REPLICATION … LOGICAL` needs. */
export interface StartCommandOptions {
  slot: string;
  /** Where to start; 0/0 lets the server start at the slot's confirmed position. */
  startLsn: bigint;
  /** One or more publications (pgoutput's `publication_names`). */
  publications: readonly string[];
  /** pgoutput `proto_version`: 1 (PostgreSQL 10+) … 4 (16+). */
  protoVersion: number;
  /** pgoutput `messages`: also send `pg_logical_emit_message` messages. */
  messages: boolean;
}

/**
 * Checks a slot name the way PostgreSQL does (lower-case letters, digits, underscore; at most
 * 63 bytes), so a bad name fails before any command is sent. Throws `TypeError`.
 */
export function checkSlotName(slot: string): string {
  if (!/^[a-z0-9_]{1,63}$/.test(slot)) {
    throw new TypeError(
      `Bad replication slot name ${JSON.stringify(slot)}: use 1 to 63 of a-z, 0-9 and _`,
    );
  }
  return slot;
}

/** `"name"` with inner double quotes doubled. */
export function quoteIdent(name: string): string {
  if (name === "" || name.includes("\0")) {
    throw new TypeError(`Bad identifier ${JSON.stringify(name)}`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/** `'text'` with inner single quotes doubled (standard_conforming_strings, as replication). */
export function quoteLiteral(text: string): string {
  if (text.includes("\0")) throw new TypeError(`A literal cannot hold NUL: ${text}`);
  return `'${text.replaceAll("'", "''")}'`;
}

/** `START_REPLICATION SLOT "s" LOGICAL X/Y ("proto_version" '1', …)`. */
export function startReplicationCommand(opts: StartCommandOptions): string {
  checkSlotName(opts.slot);
  if (!Number.isInteger(opts.protoVersion) || opts.protoVersion < 1 || opts.protoVersion > 4) {
    throw new TypeError(`Bad pgoutput proto_version ${opts.protoVersion}: use 1 to 4`);
  }
  if (opts.publications.length === 0) throw new TypeError("START_REPLICATION needs a publication");
  const names = opts.publications.map(quoteIdent).join(",");
  const options = [
    `"proto_version" ${quoteLiteral(String(opts.protoVersion))}`,
    `"publication_names" ${quoteLiteral(names)}`,
    `"messages" ${quoteLiteral(opts.messages ? "true" : "false")}`,
  ];
  return `START_REPLICATION SLOT ${quoteIdent(opts.slot)} LOGICAL ${formatLsn(opts.startLsn)} ` +
    `(${options.join(", ")})`;
}

/**
 * A permanent logical slot with pgoutput. Never TEMPORARY: a temporary slot dies with the
 * connection, and with it every change not yet stored. NOEXPORT_SNAPSHOT (understood since
 * PostgreSQL 10) because Vigil starts from the slot's position, not from a table copy.
 */
export function createSlotCommand(slot: string): string {
  return `CREATE_REPLICATION_SLOT ${quoteIdent(checkSlotName(slot))} LOGICAL pgoutput ` +
    "NOEXPORT_SNAPSHOT";
}

/** `DROP_REPLICATION_SLOT "s"`, with WAIT to wait for an active slot to be released. */
export function dropSlotCommand(slot: string, wait: boolean): string {
  return `DROP_REPLICATION_SLOT ${quoteIdent(checkSlotName(slot))}${wait ? " WAIT" : ""}`;
}

/** SQL for the slot's row in `pg_replication_slots` (works on a replication connection). */
export function slotInfoQuery(slot: string): string {
  return "SELECT slot_name, plugin, slot_type, database, temporary, active, active_pid, " +
    "restart_lsn, confirmed_flush_lsn, wal_status, database = current_database() " +
    `FROM pg_catalog.pg_replication_slots WHERE slot_name = ${quoteLiteral(checkSlotName(slot))}`;
}
