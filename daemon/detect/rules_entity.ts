/**
 * The rules that judge a client address's or an application's window — what no single role's
 * window shows: one address used by more roles at once than it ever was (a shared jump host,
 * stolen credentials tried from one machine), and one application on one database issuing far
 * more statements than it ever did, or appearing new with a flood of them. Both wait until
 * detection has watched the site for `min_history_days`, so the first days are not all "new".
 */

import type { AlertDraft } from "./alert.ts";
import { type Detector, entityDraft } from "./detector.ts";
import type { EntityWindow } from "./entity_window.ts";

function roleList(w: EntityWindow): string {
  const names = [...w.roles.keys()].sort();
  return names.length <= 6 ? names.join(", ") : `${names.slice(0, 6).join(", ")}, …`;
}

/** More roles on one client address in one window than the configured count and its history. */
export const sharedClientAddr: Detector = {
  name: "shared_client_addr",
  entity(w, history, ctx) {
    if (w.kind !== "client_addr") return [];
    const n = w.roles.size;
    if (n < ctx.cfg.shared_addr_roles || n <= history.maxRoles) return [];
    if (ctx.siteDays(w.start) < ctx.cfg.min_history_days) return [];
    const known = history.windows > 0;
    const severity: AlertDraft["severity"] = w.failedLogins > 0 || w.newRoles > 0
      ? "high"
      : "medium";
    return [entityDraft(w, {
      rule: this.name,
      severity,
      score: n,
      reason: `client address ${w.key} used by ${n} roles in one window (${roleList(w)}); ` +
        (known
          ? `its previous maximum ${history.maxRoles} over ${history.windows} active windows, ` +
            `${w.newRoles} of the roles new to it`
          : "an address never seen before") +
        `; ${w.statements} statements, ${w.failedLogins} failed logins`,
      features: [
        { name: "roles_per_addr", value: n, usual: history.maxRoles },
        { name: "new_roles_at_addr", value: w.newRoles, usual: 0 },
        { name: "failed_logins", value: w.failedLogins },
      ],
    })];
  },
};

/** An application on a database far above its largest window so far, or new with a flood. */
export const appSurge: Detector = {
  name: "app_surge",
  entity(w, history, ctx) {
    if (w.kind !== "application") return [];
    const n = w.statements;
    const max = history.maxStatements;
    if (n < ctx.cfg.app_surge_statements || n < ctx.cfg.app_surge_factor * max) return [];
    if (ctx.siteDays(w.start) < ctx.cfg.min_history_days) return [];
    const at = w.key.lastIndexOf("@");
    const app = w.key.slice(0, at);
    const db = w.key.slice(at + 1);
    const fresh = history.windows === 0;
    const changes = w.writes + w.ddl;
    return [entityDraft(w, {
      rule: this.name,
      severity: fresh || changes > 0 ? "high" : "medium",
      score: n,
      reason: `application ${JSON.stringify(app)} on database ${db}: ${n} statements in one ` +
        `window (${w.reads} reads, ${w.writes} writes, ${w.ddl} DDL on ${w.objects.size} ` +
        `objects) by ${roleList(w)}; ` +
        (fresh
          ? "never seen on this database before"
          : `its previous maximum ${max} over ${history.windows} active windows`) +
        ` (threshold ${ctx.cfg.app_surge_statements} and ${ctx.cfg.app_surge_factor}×)`,
      features: [
        { name: "app_statements", value: n, usual: max },
        { name: "writes", value: w.writes },
        { name: "distinct_objects", value: w.objects.size },
      ],
    })];
  },
};
