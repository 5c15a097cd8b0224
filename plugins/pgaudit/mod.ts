/**
 * The pgAudit source: collects what the WAL cannot show — reads, role and privilege changes,
 * logins and failed logins, failed statements, audit settings turned down — from PostgreSQL's
 * server log with pgAudit, in any of its three formats (csvlog, jsonlog, stderr). It follows the
 * `path` glob through rotation (rename, `log_truncate_on_rotation`, copytruncate), knows files
 * by a fingerprint of their first bytes, and stores each batch with the fingerprint and byte
 * offset it reached, so that a restart resumes exactly there; the pipeline removes secrets
 * before anything is stored (with the `redact` rules this source's table adds). Lines it
 * cannot read are stored as raw events with `parse_error`, never dropped.
 *
 * @example
 * ```ts
 * const source = pgauditSource({ path: "/var/lib/postgresql/15/main/log/*.csv", format: "csvlog" });
 * await runSource(store, source, { name: "billing-log", signal });
 * ```
 */

import type { Source, SourcePlugin } from "../../daemon/source.ts";
import { pgauditReach } from "./reach.ts";
import { probePgaudit } from "./probe.ts";
import { newStats, type PgauditStats, runPgauditSource } from "./source.ts";
import {
  checkPgauditConfig,
  PGAUDIT_FIELDS,
  pgauditConfigFromTable,
  type PgauditSettings,
  type PgauditSourceConfig,
} from "./source_config.ts";

export { checkPgauditConfig, PGAUDIT_FIELDS, pgauditConfigFromTable } from "./source_config.ts";
export type { PgauditSettings, PgauditSourceConfig } from "./source_config.ts";
export type { PgauditStats } from "./source.ts";

/** A pgAudit source and its counters (gauges for metrics; they add up across its runs). */
export interface PgauditSource extends Source {
  readonly stats: Readonly<PgauditStats>;
}

/** A pgAudit source; the config is checked here (`TypeError` naming the key). */
export function pgauditSource(config: PgauditSourceConfig): PgauditSource {
  return sourceOf(checkPgauditConfig(config));
}

/** The source of checked settings; the pipeline applies its `redaction`. */
function sourceOf(settings: PgauditSettings): PgauditSource {
  const stats = newStats();
  return {
    stats,
    redaction: { defaults: settings.redactDefaults, patterns: settings.redact },
    run: (ctx) => runPgauditSource(settings, ctx, stats),
  };
}

/** The registry entry: `type = "pgaudit"` in a `[[sources]]` table of the configuration. */
export const PGAUDIT_PLUGIN: SourcePlugin & {
  create(table: Readonly<Record<string, unknown>>): PgauditSource;
} = Object.freeze({
  type: "pgaudit",
  label: "pgAudit source",
  fields: PGAUDIT_FIELDS,
  validate(table: Readonly<Record<string, unknown>>): void {
    pgauditConfigFromTable(table);
  },
  create(table: Readonly<Record<string, unknown>>): PgauditSource {
    return sourceOf(pgauditConfigFromTable(table));
  },
  reach: pgauditReach,
  // A log file rotated away before it was read to its end (source.ts).
  gapCommands: ["PGAUDIT_FILE_UNREAD"],
  recoveryCommands: [],
  gauges: [
    { name: "lag_bytes", help: "Bytes written to the log files and not yet stored." },
    { name: "parse_errors", help: "Lines stored raw because they could not be parsed." },
    { name: "files_lost", help: "Log files that went away before they were read to the end." },
    { name: "files_open", help: "Log files being followed." },
  ],
  probe: probePgaudit,
  bench: async (argv: string[]) => (await import("./bench.ts")).pgauditBenchCommand(argv),
});
