/**
 * The configuration view's data: for each WAL source, the latest `PG_CONFIG` reading it stored
 * (what was in force on its database: pgAudit's scope globally, per database and per role,
 * connection logging, log destination, Vigil's triggers, the publication), read from the log
 * through the search index like any other event — never from a source's memory, so it shows
 * what the chain holds, also for a source that is not running. At most one page of the newest
 * readings is looked at (readings come at starts and changes, so the newest of each source is
 * among them).
 */

import type { AuditEvent, JsonObject } from "../daemon/event/model.ts";
import type { WebDeps } from "./deps.ts";
import { MAX_PAGE, searchEvents } from "./search.ts";

/** The latest reading of one source. */
export interface ConfigView {
  source: string;
  db: string | null;
  seq: number;
  ts: number;
  reading: JsonObject;
}

/** One row of pgAudit's scope: where, and the `pgaudit.log` value in force there. */
export interface ScopeRow {
  scope: string;
  value: string | null;
  /** True when the scope sets the value itself, false when it inherits the global one. */
  own: boolean;
}

/**
 * The newest `PG_CONFIG` of each source among the first `upTo` events, up to time `to`; null
 * without a search index (a page must not scan the whole log).
 */
export async function latestConfigurations(
  deps: WebDeps,
  opts: { upTo?: number; to?: number } = {},
): Promise<ConfigView[] | null> {
  if (!deps.index) return null;
  const filter = {
    kind: "system" as const,
    command: "PG_CONFIG",
    ...(opts.to === undefined ? {} : { to: opts.to }),
  };
  const page = await searchEvents(
    deps,
    { filter, before: undefined, limit: MAX_PAGE },
    opts.upTo ?? deps.store.size,
  );
  const seen = new Map<string, ConfigView>();
  for (const e of page.events) {
    const view = configView(e);
    if (view !== undefined && !seen.has(view.source)) seen.set(view.source, view);
  }
  return [...seen.values()].sort((a, b) => a.source.localeCompare(b.source));
}

function configView(e: AuditEvent): ConfigView | undefined {
  const reading = e.context?.reading;
  if (reading === null || typeof reading !== "object" || Array.isArray(reading)) return undefined;
  return { source: e.source, db: e.db ?? null, seq: e.seq, ts: e.ts, reading };
}

/** A string field of a JSON object, or null. */
export function str(o: unknown, key: string): string | null {
  if (o === null || typeof o !== "object" || Array.isArray(o)) return null;
  const v = (o as Record<string, unknown>)[key];
  return typeof v === "string" ? v : v === undefined || v === null ? null : JSON.stringify(v);
}

/** `pgaudit.log` globally and in each database, role and role-in-database that sets it. */
export function pgauditScopes(reading: JsonObject): ScopeRow[] {
  const global = str(reading.settings, "pgaudit.log");
  const rows: ScopeRow[] = [{ scope: "global", value: global, own: true }];
  const scoped = Array.isArray(reading.scoped) ? reading.scoped : [];
  for (const s of scoped) {
    const own = str((s as JsonObject).settings, "pgaudit.log");
    if (own === null) continue;
    const role = str(s, "role");
    const db = str(s, "database");
    const scope = role !== null && db !== null
      ? `role ${role} in database ${db}`
      : role !== null
      ? `role ${role}`
      : `database ${db ?? "(all)"}`;
    rows.push({ scope, value: own, own: true });
  }
  return rows;
}
