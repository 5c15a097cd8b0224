/**
 * The WAL source: Vigil's highest-assurance collection method. It reads a PostgreSQL
 * database's committed changes through a permanent logical replication slot (pgoutput, with
 * logical messages), turns each row change, truncated table and `vigil.*` message into an
 * `AuditEvent` with PostgreSQL's own text for every value, and stores them exactly once: the
 * slot is acknowledged only up to what the store has fsynced, and on restart the store's own
 * position says which re-sent transactions (or parts of one) to skip.
 *
 * Gaps are alarms: at start a dropped, invalidated or foreign-advanced slot, another cluster or
 * a WAL behind the store becomes a stored `WAL_GAP` event (`gaps.ts`); while running, a
 * heartbeat written into the WAL that does not come back, or a removed `vigil pg-install` event
 * trigger, becomes `WAL_HEARTBEAT_MISSING` / `WAL_DDL_TRIGGER_MISSING` (`watchdog.ts`).
 *
 * @example
 * ```ts
 * const source = walSource({
 *   dsn: "postgres://vigil@db1:5432/billing",
 *   slot: "vigil_billing",
 *   publication: "vigil_billing",
 * });
 * await runSource(store, source, { name: "billing", signal });
 * ```
 */

import { redactionFromTable } from "../../daemon/event/redact.ts";
import type { Source, SourcePlugin } from "../../daemon/source.ts";
import { probeWal } from "./probe.ts";
import { runWalSource } from "./source.ts";
import { walReach } from "./reach.ts";
import {
  checkWalConfig,
  WAL_FIELDS,
  walConfigFromTable,
  type WalSourceConfig,
} from "./source_config.ts";

export { checkWalConfig, WAL_DEFAULTS, WAL_FIELDS, walConfigFromTable } from "./source_config.ts";
export type { WalSettings, WalSourceConfig } from "./source_config.ts";

/**
 * A WAL source. The config is checked here (`TypeError` naming the key); nothing connects
 * until `run()`. Each `run()` is one connection: the supervisor calls it again after a failure.
 */
export function walSource(config: WalSourceConfig): Source {
  const settings = checkWalConfig(config);
  return { run: (ctx) => runWalSource(settings, ctx) };
}

/** The alarms the WAL source stores: its record may be incomplete (`gaps.ts`, `watchdog.ts`). */
const WAL_GAP_COMMANDS: readonly string[] = [
  "WAL_GAP",
  "WAL_HEARTBEAT_MISSING",
  "WAL_DDL_TRIGGER_MISSING",
  "WAL_LSN_BACKWARDS",
];

/** The registry entry: `type = "wal"` in a `[[sources]]` table of the configuration. */
export const WAL_PLUGIN: SourcePlugin = Object.freeze({
  type: "wal",
  label: "WAL source",
  fields: WAL_FIELDS,
  validate(table: Readonly<Record<string, unknown>>): void {
    walConfigFromTable(table);
  },
  create(table: Readonly<Record<string, unknown>>): Source {
    const settings = walConfigFromTable(table);
    // The pipeline redacts what the source emits (the DDL statements) with these rules.
    return { redaction: redactionFromTable(table), run: (ctx) => runWalSource(settings, ctx) };
  },
  reach: walReach,
  gapCommands: WAL_GAP_COMMANDS,
  recoveryCommands: ["WAL_HEARTBEAT_RESTORED"],
  gauges: [
    { name: "connected", help: "1 while the replication connection is up." },
    { name: "lag_bytes", help: "How far the slot's confirmed position trails the server's WAL." },
    { name: "wal_end_bytes", help: "The server's current WAL position, in bytes." },
    { name: "slot_active", help: "1 while the slot is in use by this source." },
  ],
  probe: (table: Readonly<Record<string, unknown>>) => probeWal(table),
});
