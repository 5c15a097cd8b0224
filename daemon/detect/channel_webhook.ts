/**
 * Alerts as JSON POSTed to a webhook. Network errors, 429 and 5xx are retried with exponential
 * backoff (`backoff_ms`, doubling, `retries` times); any other non-2xx answer is final, since
 * sending the same body again would get the same answer.
 */

import type { Alert } from "./alert.ts";
import { type AlertChannel, alertJson } from "./channel.ts";
import type { Severity } from "./config.ts";

/** Options of the webhook channel. */
export interface WebhookOptions {
  url: string;
  retries: number;
  backoff_ms: number;
  min_severity: Severity;
  /** Waits between attempts; tests may pass a recorder. Default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The webhook channel. */
export function webhookChannel(opts: WebhookOptions): AlertChannel {
  const sleep = opts.sleep ?? wait;
  // Messages name the endpoint without its query, which may carry a token.
  const u = new URL(opts.url);
  const shown = `${u.origin}${u.pathname}`;
  return {
    name: "webhook",
    minSeverity: opts.min_severity,
    async send(a: Alert) {
      const body = JSON.stringify({ alert: alertJson(a) });
      let last = "";
      for (let attempt = 0; attempt <= opts.retries; attempt++) {
        if (attempt > 0) await sleep(opts.backoff_ms * 2 ** (attempt - 1));
        try {
          const res = await fetch(opts.url, {
            method: "POST",
            headers: { "content-type": "application/json", "user-agent": "vigil" },
            body,
          });
          await res.body?.cancel();
          if (res.ok) return;
          last = `HTTP ${res.status}`;
          if (res.status !== 429 && res.status < 500) break;
        } catch (e) {
          last = (e as Error).message;
        }
      }
      throw new Error(`Cannot deliver alert ${a.id} to webhook ${shown}: ${last}`);
    },
    close: () => Promise.resolve(),
  };
}
