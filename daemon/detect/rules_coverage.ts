/**
 * The `coverage` rule: the two channels of a database checking each other. It runs the join of
 * `daemon/coverage/join.ts` over every event and turns each finding into an alert: row changes
 * whose statement pgAudit never logged, DDL in one channel only, a channel gone quiet. Its join
 * state is part of the detection snapshot, so a restart picks up the pending evidence; the
 * daemon writes each finding into the chain as a `system` event ({@link coverageEvent}), while
 * findings of one kind and role within `merge_minutes` are one alert.
 */

import { type CoverageFinding, CoverageJoin } from "../coverage/join.ts";
import type { AuditEvent, NewEvent } from "../event/model.ts";
import type { Alert, AlertDraft } from "./alert.ts";
import type { DetectConfig } from "./config.ts";
import type { Detector } from "./detector.ts";

/** The detector's name (what `disabled` takes). */
export const COVERAGE_RULE = "coverage";
/**
 * The `rule` of its alerts per finding: one incident per kind and role, so that a quiet channel
 * does not merge into the gaps of the same minutes.
 */
const RULES: Readonly<Record<CoverageFinding["kind"], string>> = {
  gap: "coverage_gap",
  ddl_wal_only: "coverage_ddl",
  ddl_log_only: "coverage_ddl",
  quiet: "coverage_quiet",
};
/** The `source` of the chain events of coverage alerts. */
export const COVERAGE_SOURCE = "vigil-coverage";

/** The chain event's command per finding, and the feature naming the finding in an alert. */
const COMMANDS: Readonly<Record<CoverageFinding["kind"], string>> = {
  gap: "COVERAGE_GAP",
  ddl_wal_only: "COVERAGE_DDL",
  ddl_log_only: "COVERAGE_DDL",
  quiet: "COVERAGE_QUIET",
};
const FINDING_FEATURE = "finding_";

/** A new `coverage` detector with an empty join. */
export function coverageDetector(cfg: DetectConfig): Detector {
  const join = new CoverageJoin({
    waitUs: cfg.coverage_wait_seconds * 1e6,
    quietUs: cfg.coverage_quiet_minutes * 60e6,
  });
  return {
    name: COVERAGE_RULE,
    event(ev, seq) {
      if (ev.source === COVERAGE_SOURCE) return [];
      const drafts: AlertDraft[] = [];
      join.add(seq, ev, { finding: (f) => drafts.push(coverageDraft(f)) });
      return drafts;
    },
    save: () => join.save(),
    load: (state) => join.load(state),
  };
}

/** The alert draft of a finding: it names the transaction, table, role and statement. */
export function coverageDraft(f: CoverageFinding): AlertDraft {
  const who = f.role === undefined ? "an unknown role" : `role ${f.role}`;
  const from = f.client_addr === undefined ? "" : ` from ${f.client_addr}`;
  const stmt = f.statement === undefined ? "" : `: ${clip(f.statement)}`;
  let reason: string;
  switch (f.kind) {
    case "gap": {
      const why = f.pgauditLog === undefined
        ? "pgAudit was off in the session or the table is outside pgaudit.log"
        : `pgaudit.log was '${f.pgauditLog}' in the session`;
      reason = `${f.command} of ${f.table} in transaction ${f.xid ?? "?"} by ${who}${from} on ` +
        `database ${f.db} has no pgAudit line: ${why}${stmt}`;
      break;
    }
    case "ddl_wal_only":
      reason = `${f.command ?? "DDL"} by ${who} on database ${f.db} is in the WAL but not in ` +
        `the pgAudit log${stmt}`;
      break;
    case "ddl_log_only":
      reason = `${f.command ?? "DDL"} by ${who} on database ${f.db} is in the pgAudit log but ` +
        `not in the WAL (event triggers bypassed, or the transaction rolled back)${stmt}`;
      break;
    case "quiet":
      reason = f.channel === "log"
        ? `the pgAudit log of database ${f.db} is quiet while the WAL shows writes`
        : `the WAL of database ${f.db} is quiet while the pgAudit log shows writes`;
      break;
  }
  const features = [{ name: FINDING_FEATURE + f.kind, value: 1 }];
  if (f.xid !== undefined) features.push({ name: "xid", value: f.xid });
  const d: AlertDraft = {
    rule: RULES[f.kind],
    severity: f.kind === "ddl_log_only" ? "high" : "critical",
    ts_from: f.ts,
    ts_to: f.ts,
    role: f.role ?? "",
    db: f.db,
    score: 1,
    reason,
    features,
    seqs: f.seqs,
  };
  if (f.client_addr !== undefined) d.client_addr = f.client_addr;
  return d;
}

/** The chain event that records one coverage finding (a draft of alert `alertId`). */
export function coverageEvent(d: AlertDraft, alertId: number, now: number): NewEvent {
  const finding = d.features.find((x) => x.name.startsWith(FINDING_FEATURE));
  const kind = (finding?.name.slice(FINDING_FEATURE.length) ?? "gap") as CoverageFinding["kind"];
  const xid = d.features.find((x) => x.name === "xid")?.value;
  const ev: NewEvent = {
    ts: now,
    source: COVERAGE_SOURCE,
    kind: "system",
    command: COMMANDS[kind] ?? "COVERAGE_GAP",
    error: d.reason,
    context: { alert: alertId, finding: kind, evidence: d.seqs.slice(0, 20) },
  };
  if (d.db !== undefined) ev.db = d.db;
  if (d.role !== "") ev.role = d.role;
  if (d.client_addr !== undefined) ev.client_addr = d.client_addr;
  if (xid !== undefined) ev.xid = xid;
  return ev;
}

/** True for the alerts of the coverage rule. */
export function isCoverageAlert(alert: Alert): boolean {
  return alert.rule.startsWith(COVERAGE_RULE + "_");
}

/** True for the chain events of coverage alerts. */
export function isCoverageEvent(ev: AuditEvent): boolean {
  return ev.source === COVERAGE_SOURCE;
}

function clip(s: string): string {
  return s.length > 200 ? s.slice(0, 200) + "…" : s;
}
