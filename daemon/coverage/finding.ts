/** What the coverage join finds: a statement, DDL or a channel one channel shows alone. */

/** What one channel showed and the other did not. */
export interface CoverageFinding {
  kind: "gap" | "ddl_wal_only" | "ddl_log_only" | "quiet";
  db: string;
  /** Event time of the evidence, µs. */
  ts: number;
  /** The evidence: the statement message and its row changes, the DDL events, … */
  seqs: number[];
  role?: string;
  client_addr?: string;
  xid?: number;
  table?: string;
  command?: string;
  statement?: string;
  /** For `quiet`: the channel that went quiet. */
  channel?: "commits" | "log";
  /** For `gap`: `pgaudit.log` in the writing session, as its statement message says. */
  pgauditLog?: string;
}
