/**
 * The one place that writes to the console. Lines are JSON objects on stderr (journald keeps
 * them as they are and `jq` reads them): `{"ts","level","msg",...fields}`. Error level means
 * data loss is possible or an operator must act.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
let threshold: LogLevel = "info";

/** Sets the lowest level that is written. */
export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

/** Writes one structured log line. */
export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  if (ORDER[level] < ORDER[threshold]) return;
  const line = JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields });
  console.error(line);
}

/** Writes a line for a person to stdout: command results, not diagnostics. */
export function print(text: string): void {
  console.log(text);
}
