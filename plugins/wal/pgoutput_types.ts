/**
 * The messages of PostgreSQL's logical replication protocol (`pgoutput`, protocol versions 1
 * and 2 without streaming) as `pgoutput.ts` decodes them. Field names follow the protocol
 * documentation ("Logical Replication Message Formats"); LSNs are `bigint`, times integer µs
 * since the Unix epoch, object ids and xids plain numbers (they are unsigned 32-bit).
 */

/**
 * A column value the WAL does not carry: an unchanged TOASTed value (`'u'` in the protocol).
 * PostgreSQL sends it in the new row of an UPDATE that did not touch that column, because the
 * value lives out of line and was not rewritten. It is not NULL and not empty — it is unknown
 * to the stream — so it gets a value of its own that no text or NULL can be confused with.
 */
export const UNCHANGED_TOAST: unique symbol = Symbol("unchanged TOAST value");

/** One column of a tuple: PostgreSQL's text output, `null` for NULL, or unchanged TOAST. */
export type ColumnValue = string | null | typeof UNCHANGED_TOAST;

/** The columns of a row, in the order of its relation's `columns`. */
export type TupleData = ColumnValue[];

/** `B`: a transaction starts. Its changes follow, then its `commit`. */
export interface BeginMessage {
  tag: "begin";
  /** LSN of the commit record: the same as the `commitLsn` of the matching commit. */
  finalLsn: bigint;
  /** Commit time, µs since the Unix epoch. */
  commitTime: number;
  xid: number;
}

/** `C`: the transaction ends. */
export interface CommitMessage {
  tag: "commit";
  /** Unused by PostgreSQL so far (always 0); kept so that a change shows. */
  flags: number;
  commitLsn: bigint;
  /** LSN just past the commit record: where a slot may be acknowledged once this is stored. */
  endLsn: bigint;
  commitTime: number;
}

/** `O`: the transaction was replicated into this server from `name` (a replication origin). */
export interface OriginMessage {
  tag: "origin";
  commitLsn: bigint;
  name: string;
}

/** One column as a relation message describes it. */
export interface RelationColumn {
  /** True when the column is part of the replica identity (key) of the relation. */
  key: boolean;
  name: string;
  typeOid: number;
  /** Type modifier, -1 when none (e.g. the precision and scale of numeric). */
  typmod: number;
}

/** `R`: the shape of a table; sent before its first change and again after it changes. */
export interface RelationMessage {
  tag: "relation";
  oid: number;
  /** Schema name; the protocol sends an empty string for `pg_catalog`, restored here. */
  namespace: string;
  name: string;
  /** Replica identity: `d` default (primary key), `n` nothing, `f` full, `i` index. */
  replicaIdentity: string;
  columns: RelationColumn[];
}

/** `Y`: a non-built-in data type used by a following relation. */
export interface TypeMessage {
  tag: "type";
  oid: number;
  namespace: string;
  name: string;
}

/** `I`: a row was inserted. */
export interface InsertMessage {
  tag: "insert";
  relation: number;
  newTuple: TupleData;
}

/**
 * Which old row an UPDATE or DELETE carries: `key` holds only the replica identity columns
 * (the others are sent as NULL and mean nothing), `old` the whole old row (REPLICA IDENTITY
 * FULL).
 */
export type OldTupleKind = "key" | "old";

/** `U`: a row was updated. The old row comes only with a changed key or REPLICA IDENTITY FULL. */
export interface UpdateMessage {
  tag: "update";
  relation: number;
  oldKind: OldTupleKind | null;
  oldTuple: TupleData | null;
  newTuple: TupleData;
}

/** `D`: a row was deleted. */
export interface DeleteMessage {
  tag: "delete";
  relation: number;
  oldKind: OldTupleKind;
  oldTuple: TupleData;
}

/** `T`: one TRUNCATE statement over one or more tables. */
export interface TruncateMessage {
  tag: "truncate";
  cascade: boolean;
  restartIdentity: boolean;
  relations: number[];
}

/** `M`: a message from `pg_logical_emit_message()`. */
export interface LogicalMessage {
  tag: "message";
  /** True when the message belongs to the enclosing transaction (sent between begin and commit). */
  transactional: boolean;
  /** LSN of the message record. */
  lsn: bigint;
  prefix: string;
  /** The content, copied out of the payload. */
  content: Uint8Array;
}

/** Any message `decodePgOutput` returns. */
export type PgOutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | RelationMessage
  | TypeMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage;
