/**
 * The one interface every alert channel implements (syslog, webhook, e-mail), and the text all
 * of them use for an alert. Channels get new incidents only; a failing channel is logged and
 * never stops detection.
 */

import { formatRfc3339Micros } from "../event/time.ts";
import type { Alert } from "./alert.ts";
import { type Severity, severityAtLeast } from "./severity.ts";

/** Somewhere alerts are sent. */
export interface AlertChannel {
  /** For logs: `syslog`, `webhook`, `smtp`. */
  readonly name: string;
  /** Least severity this channel sends. */
  readonly minSeverity: Severity;
  /** Delivers one alert; rejects with the reason when it could not. */
  send(alert: Alert): Promise<void>;
  /** Releases sockets. */
  close(): Promise<void>;
}

/** Whether a channel takes an alert. */
export function channelWants(c: AlertChannel, a: Alert): boolean {
  return severityAtLeast(a.severity, c.minSeverity);
}

/** One line about an alert, for syslog and mail subjects. */
export function alertSummary(a: Alert): string {
  return `Vigil alert #${a.id} ${a.severity} ${a.rule} role=${a.role || "-"}` +
    `${a.client_addr ? ` addr=${a.client_addr}` : ""}${a.db ? ` db=${a.db}` : ""}: ${a.reason}`;
}

/** The alert as JSON with RFC 3339 times, for the webhook and mail bodies. */
export function alertJson(a: Alert): Record<string, unknown> {
  return {
    ...a,
    ts_from: formatRfc3339Micros(a.ts_from),
    ts_to: formatRfc3339Micros(a.ts_to),
  };
}
