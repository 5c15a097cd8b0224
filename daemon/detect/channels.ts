/** The channels a config asks for, built from its `[detect.*]` channel tables. */

import type { AlertChannel } from "./channel.ts";
import { smtpChannel } from "./channel_smtp.ts";
import { syslogChannel } from "./channel_syslog.ts";
import { webhookChannel } from "./channel_webhook.ts";
import type { DetectConfig } from "./config.ts";

/** Every configured channel, in a fixed order: syslog, webhook, smtp. */
export function channelsFor(cfg: DetectConfig): AlertChannel[] {
  const out: AlertChannel[] = [];
  const c = cfg.channels;
  if (c.syslog) out.push(syslogChannel(c.syslog));
  if (c.webhook) out.push(webhookChannel(c.webhook));
  if (c.smtp) out.push(smtpChannel(c.smtp));
  return out;
}
