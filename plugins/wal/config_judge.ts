/**
 * What changed between two configuration readings (`config_read.ts`), each change judged by
 * what it removes from the audit:
 *
 * - **reduced** — a pgAudit class dropped from `pgaudit.log` in any scope (critical when
 *   `write`, `ddl` or `role` goes), `pgaudit.role` emptied, connection logging turned off, a
 *   log destination or the logging collector gone, pgAudit gone from
 *   `shared_preload_libraries`, `session_replication_role = replica` anywhere (critical: it
 *   skips every trigger not ENABLE ALWAYS), the publication gone or tables taken out of it.
 * - **shape** — pgAudit options that change how a line looks, never which statements are
 *   logged (`log_catalog`, `log_statement_once`, `log_parameter`, `log_relation`, `log_level`,
 *   …): recorded, never alarmed.
 * - **other** — anything else read (a class added, Vigil's triggers' state, which the watchdog
 *   raises its own alarm for): recorded.
 *
 * A database or role setting is judged by the value in force there: its own, or else the
 * global one, so removing a role's `pgaudit.log = 'all'` while the global value is `ddl` is a
 * reduction for that role. Pure functions, no I/O.
 */

import { pgauditClasses } from "../../daemon/pg/pgaudit_scope.ts";
import type { ConfigReading, ScopedSettings } from "./config_read.ts";

export { pgauditClasses };

/** One change between two readings. */
export interface ConfigChange {
  /** What changed: `pgaudit.log`, `role alice: pgaudit.log`, `publication`, … */
  item: string;
  before: string | null;
  after: string | null;
  effect: "reduced" | "shape" | "other";
  /** A reduction that removes write, DDL or role auditing, or lets triggers be skipped. */
  critical: boolean;
  /** Why it is a reduction, in words. */
  why?: string;
}

const SHAPE_ONLY = new Set([
  "pgaudit.log_catalog",
  "pgaudit.log_client",
  "pgaudit.log_level",
  "pgaudit.log_parameter",
  "pgaudit.log_parameter_max_size",
  "pgaudit.log_relation",
  "pgaudit.log_rows",
  "pgaudit.log_statement",
  "pgaudit.log_statement_once",
  "log_min_messages",
]);

const CRITICAL_CLASSES = new Set(["write", "ddl", "role"]);
const DESTINATIONS = ["stderr", "csvlog", "jsonlog", "syslog", "eventlog"];

/** The changes from `before` to `after`, in a fixed order; empty when nothing changed. */
export function judgeChanges(before: ConfigReading, after: ConfigReading): ConfigChange[] {
  const changes: ConfigChange[] = [];
  const names = new Set([...Object.keys(before.settings), ...Object.keys(after.settings)]);
  for (const name of [...names].sort()) {
    const b = before.settings[name] ?? null;
    const a = after.settings[name] ?? null;
    if (b !== a) changes.push(judgeSetting(name, name, b, a));
  }
  const key = (s: ScopedSettings) => scopeName(s);
  const scopes = new Map<string, [ScopedSettings | undefined, ScopedSettings | undefined]>();
  for (const s of before.scoped) scopes.set(key(s), [s, undefined]);
  for (const s of after.scoped) scopes.set(key(s), [scopes.get(key(s))?.[0], s]);
  for (const [scope, [b, a]] of [...scopes].sort(([x], [y]) => x.localeCompare(y))) {
    const own = new Set([...Object.keys(b?.settings ?? {}), ...Object.keys(a?.settings ?? {})]);
    for (const name of [...own].sort()) {
      const ob = b?.settings[name] ?? null;
      const oa = a?.settings[name] ?? null;
      if (ob === oa) continue;
      // In force there: its own value, or else the global one.
      const eb = ob ?? before.settings[name] ?? null;
      const ea = oa ?? after.settings[name] ?? null;
      const change = judgeSetting(`${scope}: ${name}`, name, eb, ea);
      changes.push({ ...change, before: ob, after: oa });
    }
  }
  if (before.session_replication_role !== after.session_replication_role) {
    changes.push(judgeSetting(
      "Vigil session: session_replication_role",
      "session_replication_role",
      before.session_replication_role,
      after.session_replication_role,
    ));
  }
  changes.push(...judgeInstall(before, after), ...judgePublication(before, after));
  return changes;
}

/** "database shop", "role alice", "role alice in database shop". */
export function scopeName(s: ScopedSettings): string {
  if (s.role !== null && s.database !== null) return `role ${s.role} in database ${s.database}`;
  if (s.role !== null) return `role ${s.role}`;
  return `database ${s.database ?? "(all)"}`;
}

function judgeSetting(
  item: string,
  name: string,
  before: string | null,
  after: string | null,
): ConfigChange {
  const c = (effect: ConfigChange["effect"], critical = false, why?: string): ConfigChange => ({
    item,
    before,
    after,
    effect,
    critical,
    ...(why === undefined ? {} : { why }),
  });
  if (SHAPE_ONLY.has(name)) return c("shape");
  const b = (before ?? "").trim().toLowerCase();
  const a = (after ?? "").trim().toLowerCase();
  switch (name) {
    case "pgaudit.log": {
      const kept = pgauditClasses(after);
      const gone = [...pgauditClasses(before)].filter((x) => !kept.has(x));
      if (gone.length === 0) return c("other");
      const critical = gone.some((x) => CRITICAL_CLASSES.has(x));
      return c("reduced", critical, `pgAudit no longer logs ${gone.join(", ")}`);
    }
    case "pgaudit.role":
      return b !== "" && a === "" ? c("reduced", false, "object auditing has no role") : c("other");
    case "log_connections":
    case "log_disconnections":
    case "logging_collector":
      return b === "on" && a !== "on" ? c("reduced", false, `${name} turned off`) : c("other");
    case "log_destination": {
      const gone = DESTINATIONS.filter((d) => b.includes(d) && !a.includes(d));
      return gone.length > 0
        ? c("reduced", false, `the server no longer logs to ${gone.join(", ")}`)
        : c("other");
    }
    case "shared_preload_libraries":
      return /\bpgaudit\b/.test(b) && !/\bpgaudit\b/.test(a)
        ? c("reduced", true, "pgAudit is no longer loaded (from the next restart)")
        : c("other");
    case "session_replication_role":
      return a === "replica" && b !== "replica"
        ? c("reduced", true, "sessions skip every trigger that is not ENABLE ALWAYS")
        : c("other");
    default:
      return c("other");
  }
}

function judgeInstall(before: ConfigReading, after: ConfigReading): ConfigChange[] {
  const b = before.install.problems.join("; ");
  const a = after.install.problems.join("; ");
  const out: ConfigChange[] = [];
  if (b !== a) {
    out.push({
      item: "vigil pg-install",
      before: b || "whole",
      after: a || "whole",
      effect: "other",
      critical: false,
    });
  }
  const triggers = new Set([
    ...Object.keys(before.install.event_triggers),
    ...Object.keys(after.install.event_triggers),
  ]);
  for (const t of [...triggers].sort()) {
    const tb = before.install.event_triggers[t] ?? null;
    const ta = after.install.event_triggers[t] ?? null;
    if (tb !== ta) {
      out.push({
        item: `event trigger ${t}`,
        before: tb,
        after: ta,
        effect: "other",
        critical: false,
      });
    }
  }
  return out;
}

function judgePublication(before: ConfigReading, after: ConfigReading): ConfigChange[] {
  const b = before.publication;
  const a = after.publication;
  const out: ConfigChange[] = [];
  const item = `publication ${a.name}`;
  if (b.exists && !a.exists) {
    out.push({
      item,
      before: "exists",
      after: "gone",
      effect: "reduced",
      critical: true,
      why: "the WAL source streams nothing without its publication",
    });
    return out;
  }
  if (b.all_tables !== a.all_tables) {
    out.push({
      item: `${item}: FOR ALL TABLES`,
      before: String(b.all_tables),
      after: String(a.all_tables),
      effect: b.all_tables ? "reduced" : "other",
      critical: false,
      ...(b.all_tables ? { why: "tables may be left out of the WAL stream" } : {}),
    });
  }
  const newly = a.excluded.filter((t) => !b.excluded.includes(t));
  if (a.excluded_count > b.excluded_count || newly.length > 0) {
    out.push({
      item: `${item}: tables left out`,
      before: listed(b.excluded, b.excluded_count),
      after: listed(a.excluded, a.excluded_count),
      effect: "reduced",
      critical: false,
      why: `changes to ${newly.length > 0 ? newly.join(", ") : "more tables"} no longer reach ` +
        `the WAL source`,
    });
  } else if (a.excluded_count !== b.excluded_count || a.table_count !== b.table_count) {
    out.push({
      item: `${item}: tables`,
      before: `${b.table_count} published, ${b.excluded_count} left out`,
      after: `${a.table_count} published, ${a.excluded_count} left out`,
      effect: "other",
      critical: false,
    });
  }
  return out;
}

function listed(tables: string[], count: number): string {
  if (count === 0) return "none";
  const more = count - tables.length;
  return tables.join(", ") + (more > 0 ? ` and ${more} more` : "");
}
