/**
 * What one event is, for detection: a read, a write, DDL, a role change, a failed login, an
 * error. pgAudit classes, WAL kinds and bare commands all map onto the same few facts, so the
 * features and rules do not care which source saw the statement.
 */

import type { AuditEvent } from "../event/model.ts";

/** Source and command of the events that acknowledge alerts: never inputs to detection. */
export const ACK_SOURCE = "vigil-detect";
export const ACK_COMMAND = "VIGIL_ALERT_ACK";

const ROLE_COMMANDS = new Set(["GRANT", "REVOKE", "CREATE ROLE", "ALTER ROLE", "DROP ROLE"]);
const DDL_KINDS = new Set(["DDL"]);
const READ_COMMANDS = new Set(["SELECT", "COPY"]);

/** The classification of one event. */
export interface EventClass {
  read: boolean;
  write: boolean;
  ddl: boolean;
  /** DROP or TRUNCATE: DDL that destroys data. */
  destructive: boolean;
  roleChange: boolean;
  failedLogin: boolean;
  error: boolean;
}

/** Upper-cased command, or "". */
export function commandOf(ev: AuditEvent): string {
  return ev.command === undefined ? "" : ev.command.toUpperCase();
}

/** Classifies an event. */
export function classify(ev: AuditEvent): EventClass {
  const cmd = commandOf(ev);
  const cls = ev.class === undefined ? "" : ev.class.toUpperCase();
  const roleChange = ev.kind !== "auth" && (cls === "ROLE" || ROLE_COMMANDS.has(cmd));
  // Logins and the sources' own system events are never statements, whatever their class says.
  const statement = ev.kind !== "auth" && ev.kind !== "system";
  const ddl = statement && !roleChange &&
    (ev.kind === "ddl" || DDL_KINDS.has(cls) || cmd === "TRUNCATE" || cmd === "TRUNCATE TABLE");
  const failedLogin = ev.kind === "auth" && ev.sqlstate !== undefined &&
    ev.sqlstate.startsWith("28");
  return {
    read: cls === "READ" || (cls === "" && READ_COMMANDS.has(cmd) && ev.kind !== "auth"),
    write: cls === "WRITE" || ev.kind === "row_change",
    ddl,
    destructive: ddl && (cmd.startsWith("DROP") || cmd.startsWith("TRUNCATE")),
    roleChange,
    failedLogin,
    error: !failedLogin && ev.sqlstate !== undefined && !ev.sqlstate.startsWith("00"),
  };
}

/** True for events detection skips: acknowledgements written by detection itself. */
export function isAckEvent(ev: AuditEvent): boolean {
  return ev.source === ACK_SOURCE && ev.command === ACK_COMMAND;
}
