/**
 * The rules that judge a role's closed window: activity at an hour or on a weekday the role
 * almost never works, and bulk reads across many more objects than the role ever read at once.
 */

import { DAY_NAMES } from "./clock.ts";
import { type Detector, windowDraft } from "./detector.ts";

/** Activity in an hour of day or on a weekday that holds almost none of the role's history. */
export const offHours: Detector = {
  name: "off_hours",
  window(w, _v, ctx) {
    const p = ctx.profile;
    if (p.historyDays(w.start) < ctx.cfg.min_history_days) return [];
    const { hour, weekday: day } = ctx.clock(w.start);
    const hs = p.hourShare(hour);
    const ds = p.weekdayShare(day);
    const min = ctx.cfg.off_hours_min_share;
    if (hs >= min && ds >= min) return [];
    const parts = [];
    if (hs < min) parts.push(`${hour}:00 ${ctx.cfg.timezone} holds ${(hs * 100).toFixed(1)}%`);
    if (ds < min) parts.push(`${DAY_NAMES[day]} holds ${(ds * 100).toFixed(1)}%`);
    return [windowDraft(w, {
      rule: this.name,
      severity: w.sensitive > 0 || w.ddl > 0 ? "high" : "medium",
      score: Math.min(hs, ds),
      reason: `${w.role} active outside its usual hours: ${parts.join(" and ")} of its ` +
        `${p.windows} active hours; ${w.statements} statements on ${w.objects.size} objects`,
      features: [
        { name: "hour_share", value: hs, usual: 1 / 24 },
        { name: "weekday_share", value: ds, usual: 1 / 7 },
        { name: "statements", value: w.statements },
      ],
    })];
  },
};

/**
 * One window reading many objects, or many rows (pgAudit's `log_rows`), far more than the
 * role's largest window so far.
 */
export const bulkRead: Detector = {
  name: "bulk_read",
  window(w, _v, ctx) {
    const n = w.readObjects.size;
    const max = ctx.profile.maxObjectsPerWindow;
    const rows = w.readRows;
    const maxRows = ctx.profile.maxReadRowsPerWindow;
    const f = ctx.cfg.bulk_read_factor;
    const byObjects = n >= ctx.cfg.bulk_read_objects && n >= f * Math.max(1, max);
    const byRows = rows >= ctx.cfg.bulk_read_rows && rows >= f * Math.max(1, maxRows);
    if (!byObjects && !byRows) return [];
    const what = byObjects
      ? `${n} distinct objects in one window (its previous maximum ${max}, ` +
        `threshold ${ctx.cfg.bulk_read_objects} and ${f}×)`
      : `${rows} rows in one window (its previous maximum ${maxRows}, ` +
        `threshold ${ctx.cfg.bulk_read_rows} and ${f}×)`;
    return [windowDraft(w, {
      rule: this.name,
      severity: w.sensitive > 0 ? "critical" : "high",
      score: byObjects ? n : rows,
      reason: `${w.role} read ${what}; ` +
        `${w.sensitive} sensitive accesses, ${w.firstTimeObjects} first-time objects`,
      features: [
        { name: "distinct_objects", value: n, usual: max },
        { name: "rows_read", value: rows, usual: maxRows },
        { name: "sensitive_accesses", value: w.sensitive },
        { name: "first_time_objects", value: w.firstTimeObjects },
      ],
    })];
  },
};
