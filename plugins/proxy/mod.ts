/**
 * The proxy source: Vigil's third collection method. It sits between clients and one
 * PostgreSQL server, speaks the wire protocol on both sides, and records what each client
 * sent and got back — sessions and their login outcome, every statement of the simple and
 * the extended protocol with its bind parameters as sent, its command tag and row count or
 * its error, its duration and the transaction state after it, COPY byte counts, cancels —
 * including what neither the WAL nor pgAudit shows. Clients authenticate end to end; the
 * proxy holds no password.
 *
 * The forwarding side runs in a Worker of its own (`thread.ts`, `proxy_worker.ts`); its events come to
 * the daemon's thread in batches.
 *
 * Two modes: `observe` stores events asynchronously through a bounded backlog (a `PROXY_GAP`
 * event if it ever overflows); `enforce` releases a statement's result only once its event
 * is durable, and answers with an error when the store cannot take it.
 *
 * @example
 * ```toml
 * [[sources]]
 * name = "billing-proxy"
 * type = "proxy"
 * listen = "127.0.0.1:6432"
 * upstream = "postgres://db1:5432/?sslmode=verify-full&sslrootcert=/etc/vigil/db1-ca.pem"
 * mode = "enforce"
 * ```
 */

import type { Source, SourcePlugin } from "../../daemon/source.ts";
import { proxyConfigFromTable, type ProxySettings } from "./config.ts";
import { PROXY_FIELDS } from "./fields.ts";
import { proxyReach } from "./reach.ts";
import { probeProxy } from "./probe.ts";
import type { ProxyStats } from "./source.ts";
import { runProxyThread } from "./thread.ts";

export { PROXY_DEFAULTS, PROXY_KEYS, proxyConfigFromTable } from "./config.ts";
export { PROXY_FIELDS } from "./fields.ts";
export type { ProxyMode, ProxySettings } from "./config.ts";
export type { ProxyStats } from "./source.ts";

/** A proxy source and what it reports (its address once listening, its open sessions). */
export interface ProxySource extends Source {
  readonly stats: Readonly<ProxyStats>;
}

/** A proxy source of checked settings. */
export function proxySource(settings: ProxySettings): ProxySource {
  const stats: ProxyStats = { address: undefined, sessions: 0 };
  return {
    stats,
    redaction: settings.redaction,
    // Its own thread: the daemon's other work never holds up a forwarded chunk.
    run: (ctx) => runProxyThread(settings, ctx, stats),
  };
}

/** A proxy source of a `[[sources]]` table; throws as the config check does. */
export function proxySourceFromTable(table: Readonly<Record<string, unknown>>): ProxySource {
  return proxySource(proxyConfigFromTable(table));
}

/** The commands of this source that mean its record may be incomplete: alarms and gaps. */
export const PROXY_GAP_COMMANDS: readonly string[] = Object.freeze([
  "PROXY_GAP",
  "PROXY_SPOOL_DAMAGED",
]);

/** The registry entry: `type = "proxy"` in a `[[sources]]` table of the configuration. */
export const PROXY_PLUGIN: SourcePlugin = Object.freeze({
  type: "proxy",
  label: "proxy source",
  fields: PROXY_FIELDS,
  validate(table: Readonly<Record<string, unknown>>): void {
    proxyConfigFromTable(table);
  },
  create: proxySourceFromTable,
  reach: proxyReach,
  gapCommands: PROXY_GAP_COMMANDS,
  recoveryCommands: [],
  gauges: [
    { name: "connected", help: "1 while the proxy listens." },
    { name: "sessions", help: "Client sessions open now." },
    { name: "backlog_events", help: "Observe mode: events waiting for the store." },
    { name: "events_lost", help: "Observe mode: events not stored this run (see PROXY_GAP)." },
    { name: "spool_bytes", help: "Enforce mode: bytes of durable events waiting for the store." },
  ],
  probe: probeProxy,
  // Loaded only when asked for, so that no bench code sits on the source's path.
  bench: async (argv: string[]) => (await import("./bench/command.ts")).proxyBenchCommand(argv),
});
