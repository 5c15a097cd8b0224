/**
 * The proxy source: Vigil's third collection method. It sits between clients and one
 * PostgreSQL server, speaks the wire protocol on both sides, and records what each client
 * sent and got back — sessions and their login outcome, every statement of the simple and
 * the extended protocol with its bind parameters as sent, its command tag and row count or
 * its error, its duration and the transaction state after it, COPY byte counts, cancels —
 * including what neither the WAL nor pgAudit shows. Clients authenticate end to end; the
 * proxy holds no password.
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

import type { Source } from "../../daemon/source.ts";
import { proxyConfigFromTable, type ProxySettings } from "./config.ts";
import { probeProxy } from "./probe.ts";
import { type ProxyStats, runProxySource } from "./source.ts";

export { PROXY_DEFAULTS, PROXY_KEYS, proxyConfigFromTable } from "./config.ts";
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
    run: (ctx) => runProxySource(settings, ctx, stats),
  };
}

/**
 * The Deno permissions a proxy table needs: listening on its address, connecting to its
 * upstream, reading its certificate, key and upstream CA. For the lead to wire into
 * `SourcePlugin`; today `daemon/config/source_paths.ts` carries the same rule.
 */
export function PROXY_PERMISSIONS(
  table: Readonly<Record<string, unknown>>,
): { read: string[]; net: string[] } {
  const s = proxyConfigFromTable(table);
  const hostPort = (h: string, p: number): string => h.includes(":") ? `[${h}]:${p}` : `${h}:${p}`;
  const read = [s.tlsCert, s.tlsKey, s.server.sslrootcert].filter((p): p is string =>
    typeof p === "string"
  );
  return {
    read,
    net: [hostPort(s.listen.hostname, s.listen.port), hostPort(s.server.host, s.server.port)],
  };
}

/** The Administration form's fields of a proxy source. */
export const PROXY_FORM_FIELDS: readonly {
  key: string;
  label: string;
  kind: "text" | "select" | "path" | "number";
  required: boolean;
  secret?: boolean;
  options?: readonly string[];
}[] = Object.freeze([
  { key: "listen", label: "Listen address (host:port)", kind: "text", required: true },
  {
    key: "upstream",
    label: "Upstream server (postgres://host:port/?sslmode=…, no credentials)",
    kind: "text",
    required: true,
  },
  {
    key: "mode",
    label: "Mode",
    kind: "select",
    required: false,
    options: ["observe", "enforce"],
  },
  { key: "tls_cert", label: "TLS certificate for clients (PEM)", kind: "path", required: false },
  { key: "tls_key", label: "TLS key for clients (PEM)", kind: "path", required: false },
]);

/** Commands of this source that mean the record may be incomplete: alarms. */
export const PROXY_GAP_COMMANDS: readonly string[] = Object.freeze([
  "PROXY_GAP",
]);

/** The gauges a proxy source reports. */
export const PROXY_GAUGES: readonly { name: string; help: string }[] = Object.freeze([
  { name: "connected", help: "1 while the proxy listens" },
  { name: "sessions", help: "client sessions open now" },
  { name: "backlog_events", help: "observe mode: events waiting for the store" },
  { name: "events_lost", help: "observe mode: events not stored this run (see PROXY_GAP)" },
]);

/** The registry entry: `type = "proxy"` in a `[[sources]]` table of the configuration. */
export const PROXY_PLUGIN: {
  readonly type: "proxy";
  validate(table: Readonly<Record<string, unknown>>): void;
  create(table: Readonly<Record<string, unknown>>): ProxySource;
  probe(table: Readonly<Record<string, unknown>>): Promise<{ ok: boolean; lines: string[] }>;
} = Object.freeze({
  type: "proxy",
  validate(table: Readonly<Record<string, unknown>>): void {
    proxyConfigFromTable(table);
  },
  create(table: Readonly<Record<string, unknown>>): ProxySource {
    return proxySource(proxyConfigFromTable(table));
  },
  probe: probeProxy,
});
