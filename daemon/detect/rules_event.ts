/**
 * The rules that judge single events as they land: DDL by a role that never runs DDL, privilege
 * escalation, failed-login bursts, a never-seen client address, first reads of sensitive objects
 * and a run of first-time reads (slow exfiltration), and signs that auditing itself was cut.
 * Deterministic: the same events in the same order give the same drafts.
 */

import type { AuditEvent } from "../event/model.ts";
import { formatRfc3339Micros } from "../event/time.ts";
import type { AlertDraft } from "./alert.ts";
import { commandOf } from "./event_facts.ts";
import type { GapCommands } from "./gap_commands.ts";
import { installerStatements } from "../pg/install_sql.ts";
import { type DetectContext, type Detector, eventDraft, type EventFacts } from "./detector.ts";

function old(ctx: DetectContext, ts: number): boolean {
  return ctx.profile.historyDays(ts) >= ctx.cfg.min_history_days;
}

/** DDL or TRUNCATE by a role with a history and no DDL in it. */
export const ddlByNonDdlRole: Detector = {
  name: "ddl_by_non_ddl_role",
  event(ev, seq, f, ctx) {
    if (!f.ddl || ev.role === undefined || ctx.profile.ddlEvents > 0 || !old(ctx, ev.ts)) return [];
    const days = ctx.profile.historyDays(ev.ts);
    return [eventDraft(ev, seq, {
      rule: this.name,
      severity: f.destructive ? "critical" : "high",
      score: 1,
      reason: `${commandOf(ev) || "DDL"} ${ev.object ?? ""} by ${ev.role}, which ran no DDL in ` +
        `${Math.floor(days)} days and ${ctx.profile.events} events of history`.replace("  ", " "),
      features: [{ name: "ddl", value: 1, usual: 0 }, { name: "history_days", value: days }],
    })];
  },
};

const ESCALATING = /\b(SUPERUSER|CREATEROLE|BYPASSRLS|REPLICATION|CREATEDB)\b/i;
const GRANTED_ROLES = /\bGRANT\s+([\w",\s]+?)\s+TO\b/i;

/** ALTER/CREATE ROLE … SUPERUSER and the like, grants on sensitive objects or of privileged roles. */
export const privilegeEscalation: Detector = {
  name: "privilege_escalation",
  event(ev, seq, f, ctx) {
    if (!f.roleChange) return [];
    const cmd = commandOf(ev);
    const text = ev.statement ?? "";
    let why: string | undefined;
    let severity: AlertDraft["severity"] = "high";
    const attr = ESCALATING.exec(text);
    if (attr && cmd !== "REVOKE" && !new RegExp(`\\bNO${attr[1]}\\b`, "i").test(text)) {
      why = `${cmd} gives the attribute ${attr[1]!.toUpperCase()}`;
      severity = attr[1]!.toUpperCase() === "SUPERUSER" ? "critical" : "high";
    } else if (cmd === "GRANT") {
      const objects = [ev.object, ...text.split(/[\s,;()]+/)].filter((x): x is string => !!x);
      const hit = objects.find((o) => ctx.isSensitive(o));
      const granted = GRANTED_ROLES.exec(text)?.[1]?.split(",").map((s) =>
        s.trim().replace(/"/g, "")
      );
      const priv = granted?.find((r) => ctx.cfg.privileged_roles.includes(r));
      if (hit !== undefined) why = `GRANT on the sensitive object ${hit}`;
      else if (priv !== undefined) why = `GRANT of the privileged role ${priv}`;
    }
    if (why === undefined) return [];
    return [eventDraft(ev, seq, {
      rule: this.name,
      severity,
      score: 1,
      reason: `${why}, by ${ev.role ?? "an unknown role"} (history: ${ctx.profile.events} ` +
        `events over ${Math.floor(ctx.profile.historyDays(ev.ts))} days)`,
      features: [{ name: "role_changes", value: 1 }],
    })];
  },
};

/** Failed logins from one address (or for one role) coming faster than the configured burst. */
export function failedLoginBurst(): Detector {
  const recent = new Map<string, { ts: number; seq: number }[]>();
  return {
    name: "failed_login_burst",
    event(ev, seq, f, ctx) {
      if (!f.failedLogin) return [];
      const key = ev.client_addr ?? `role:${ev.role ?? ""}`;
      const span = ctx.cfg.failed_login_window_minutes * 60e6;
      const q = recent.get(key) ?? [];
      q.push({ ts: ev.ts, seq });
      while (q.length > 0 && q[0]!.ts <= ev.ts - span) q.shift();
      recent.set(key, q);
      // Guessing from many addresses must not grow memory without bound: forget quiet ones.
      if (recent.size > 10_000) {
        for (const [k, v] of recent) if (v.at(-1)!.ts <= ev.ts - span) recent.delete(k);
      }
      if (q.length < ctx.cfg.failed_login_burst) return [];
      const d = eventDraft(ev, seq, {
        rule: this.name,
        severity: "high",
        score: q.length,
        reason: `${q.length} failed logins for ${ev.role ?? "unknown roles"} from ` +
          `${
            ev.client_addr ?? "unknown addresses"
          } within ${ctx.cfg.failed_login_window_minutes} ` +
          `min (burst threshold ${ctx.cfg.failed_login_burst})`,
        features: [{ name: "failed_logins", value: q.length, usual: 0 }],
      });
      d.ts_from = q[0]!.ts;
      d.seqs = q.map((x) => x.seq);
      return [d];
    },
    save: () => [...recent],
    load(state) {
      if (!Array.isArray(state)) throw new SyntaxError("Cannot read failed_login_burst state");
      for (const [k, q] of state as [string, { ts: number; seq: number }[]][]) recent.set(k, q);
    },
  };
}

/** A role with a history connects from an address it never used. */
export const newClientAddr: Detector = {
  name: "new_client_addr",
  event(ev, seq, f, ctx) {
    if (!f.newAddr || ev.role === undefined || !old(ctx, ev.ts)) return [];
    const hour = ctx.clock(ev.ts).hour;
    const share = ctx.profile.hourShare(hour);
    const offHours = share < ctx.cfg.off_hours_min_share;
    return [eventDraft(ev, seq, {
      rule: this.name,
      severity: offHours ? "high" : "medium",
      score: ctx.profile.addrs.size,
      reason: `${ev.role} from ${ev.client_addr}, never seen among its ` +
        `${ctx.profile.addrs.size} known addresses` +
        (offHours
          ? `, at ${hour}:00 ${ctx.cfg.timezone} (${(share * 100).toFixed(1)}% of its activity)`
          : ""),
      features: [
        { name: "new_client_addrs", value: 1, usual: 0 },
        { name: "hour_share", value: share },
      ],
    })];
  },
};

/** First reads of sensitive objects, and a week's run of first-time reads. */
export const newObjectReads: Detector = {
  name: "exfiltration",
  event(ev, seq, f, ctx) {
    if (!f.read || !f.firstTimeObject || ev.role === undefined || !old(ctx, ev.ts)) return [];
    const week = f.newObjectsWeek;
    if (f.sensitive) {
      return [eventDraft(ev, seq, {
        rule: this.name,
        severity: "high",
        score: week,
        reason: `${ev.role} read the sensitive object ${ev.object} for the first time ` +
          `(${week} first-time objects in 7 days)`,
        features: [{ name: "sensitive_accesses", value: 1, usual: 0 }, {
          name: "first_time_objects_7d",
          value: week,
        }],
      })];
    }
    if (week < ctx.cfg.new_objects_per_week) return [];
    return [eventDraft(ev, seq, {
      rule: this.name,
      severity: "medium",
      score: week,
      reason: `${ev.role} read ${week} objects for the first time within 7 days ` +
        `(threshold ${ctx.cfg.new_objects_per_week}); latest ${ev.object}`,
      features: [{ name: "first_time_objects_7d", value: week }],
    })];
  },
};

function tamperWhy(
  ev: AuditEvent,
  f: EventFacts,
  gaps: ReadonlySet<string>,
): string | undefined {
  const cmd = commandOf(ev);
  // `audit_reduced` judges its own severity: critical only when write, DDL or role auditing goes.
  if (ev.kind === "system" && gaps.has(cmd) && cmd !== "AUDIT_REDUCED") {
    return `${cmd}${ev.error === undefined ? "" : `: ${ev.error}`}`;
  }
  if (ev.context?.audit_reduced === true) {
    return `audit setting ${String(ev.context.setting ?? ev.object ?? "?")} lowered to ` +
      `${JSON.stringify(ev.context.value ?? null)}`;
  }
  if (f.ddl) return vigilDdlWhy(ev, cmd);
  return undefined;
}

const INSTALLER = installerStatements();
/** Turning a trigger off or down to origin/replica-only; ENABLE ALWAYS is not among them. */
const TRIGGER_WEAKENED =
  /\b(DISABLE\s+TRIGGER|ENABLE\s+(REPLICA\s+)?TRIGGER)\s+("?vigil_stmt"?|ALL|USER)\b/i;
/** `vigil.x`, `"vigil".x` or `SCHEMA vigil` in a statement. */
const NAMES_VIGIL =
  /(?:^|[^\w$"])"?vigil"?\s*\.\s*["\w]|\bSCHEMA\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"?vigil"?(?:[\s;]|$)/i;
/** The statement trigger pg-install's event trigger creates on a new table (pgAudit logs it). */
const ATTACH_TRIGGER =
  /^CREATE TRIGGER vigil_stmt AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON (?:"(?:[^"]|"")*"|[\w$]+)(?:\.(?:"(?:[^"]|"")*"|[\w$]+))? FOR EACH STATEMENT EXECUTE FUNCTION vigil\.emit_statement\(\)$/;
const ENABLE_ALWAYS_ONLY = /^\s*ALTER\s+EVENT\s+TRIGGER\s+"?\w+"?\s+ENABLE\s+ALWAYS\s*;?\s*$/i;

/**
 * DDL that blinds Vigil's PostgreSQL side: on an event trigger (but setting one ENABLE ALWAYS,
 * alone), on anything in the `vigil` schema or the schema itself (replacing a function
 * included), or dropping or weakening a table's `vigil_stmt` trigger. The installer's own
 * statements, sent alone with their exact text, make the objects exactly what pg-install makes
 * them and are not tampering.
 */
function vigilDdlWhy(ev: AuditEvent, cmd: string): string | undefined {
  const statement = ev.statement?.trim() ?? "";
  if (INSTALLER.has(statement)) return undefined;
  const object = ev.object ?? "";
  if (/^(DROP|ALTER) EVENT TRIGGER/.test(cmd)) {
    if (cmd.startsWith("ALTER") && ENABLE_ALWAYS_ONLY.test(statement)) return undefined;
    return `${cmd} ${object}`.trim();
  }
  const inSchema = ev.schema === "vigil" || /^"?vigil"?\./.test(object) ||
    (/SCHEMA$/.test(cmd) && /^"?vigil"?$/.test(object));
  if (inSchema) return `${cmd} ${object} in the audit schema`;
  // pgAudit names no object for some DDL (CREATE FUNCTION): the statement text tells.
  if (NAMES_VIGIL.test(statement) && !ATTACH_TRIGGER.test(statement)) {
    return `${cmd} on the audit schema: ${statement.slice(0, 120)}`;
  }
  if (/^DROP TRIGGER/.test(cmd) && /^"?vigil_stmt"? on /i.test(object)) {
    return `${cmd} ${object}: the statement trigger of the audit`;
  }
  if (/^ALTER TABLE/.test(cmd) && TRIGGER_WEAKENED.test(statement)) {
    return `${cmd} ${object} turns the statement trigger of the audit off or down`;
  }
  return undefined;
}

/**
 * Signs that the audit trail is being cut: a gap event (`gaps.gap`: the core's and every source
 * plugin's, `gap_commands.ts`: collection or auditing cut, a key loss declared, the stored log
 * damaged), lowered logging, a dropped event trigger.
 */
export function auditTampering(gaps: GapCommands): Detector {
  return {
    name: "audit_tampering",
    event(ev, seq, f) {
      const why = tamperWhy(ev, f, gaps.gap);
      if (why === undefined) return [];
      return [eventDraft(ev, seq, {
        rule: this.name,
        severity: "critical",
        score: 1,
        reason: `${why} (source ${ev.source}, at ${formatRfc3339Micros(ev.ts)})`,
        features: [],
      })];
    },
  };
}
/**
 * A configuration read back that removes something from the audit (`AUDIT_REDUCED`, from the
 * WAL source's read-back): critical when write, DDL or role auditing goes or triggers can be
 * skipped (`context.critical`), high otherwise. Changes that only reshape the output are
 * `PG_CONFIG_CHANGED` and no alert.
 */
export const auditReduced: Detector = {
  name: "audit_reduced",
  event(ev, seq) {
    if (ev.kind !== "system" || commandOf(ev) !== "AUDIT_REDUCED") return [];
    const critical = ev.context?.critical === true;
    return [eventDraft(ev, seq, {
      rule: this.name,
      severity: critical ? "critical" : "high",
      score: 1,
      reason: `${ev.error ?? "auditing reduced"} (source ${ev.source}, at ${
        formatRfc3339Micros(ev.ts)
      })`,
      features: [],
    })];
  },
};
