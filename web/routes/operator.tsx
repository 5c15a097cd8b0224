/**
 * The Operator page (admin, operator) and acknowledging alerts. Showing open alerts is
 * recorded (VIEW_ALERTS): they carry audit data. An acknowledgement is a review
 * of audit data, so it is recorded in the chain (ACK_ALERT) before it is stored.
 */

import { Hono } from "hono";
import { recordUiAction } from "../audit_trail.ts";
import { csrfCheck } from "../auth/csrf.ts";
import { requireRole } from "../auth/session.ts";
import type { WebDeps } from "../deps.ts";
import type { WebEnv } from "../env.ts";
import { OperatorPage } from "../views/operator.tsx";

/** Most open alerts listed on the page. */
const ALERTS_SHOWN = 100;

/** Routes /operator and /alerts. */
export function operatorRoutes(deps: WebDeps): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  const now = deps.now ?? Date.now;

  app.get("/operator", requireRole("admin", "operator"), async (c) => {
    const user = c.get("user")!;
    const window = c.req.query("window") === "day" ? "day" : "hour";
    const status = deps.status.current();
    const series = new Map(status.sources.map((s) => [s.name, deps.status.series(s.name, window)]));
    const alerts = deps.alerts
      ? await deps.alerts.list({ acked: false, limit: ALERTS_SHOWN })
      : null;
    // Alerts name roles, addresses and events: reading them is reading audit data.
    if (alerts !== null && alerts.length > 0) {
      await recordUiAction(deps, c, {
        command: "VIEW_ALERTS",
        context: { alerts: alerts.map((a) => a.id).slice(0, 100) },
      });
    }
    return c.html(
      <OperatorPage
        user={user}
        csrf={c.get("session")!.csrf}
        {...{ status, series, window, alerts }}
        now={now()}
        canAck
        canSeeEvents={user.role === "admin"}
      />,
    );
  });

  app.post(
    "/alerts/:id/ack",
    requireRole("admin", "operator"),
    csrfCheck({ tls: deps.tls }),
    async (c) => {
      if (!deps.alerts) return c.text("Alerting is not configured", 404);
      const idText = c.req.param("id");
      const id = /^\d{1,15}$/.test(idText) ? Number(idText) : -1;
      const alert = await deps.alerts.get(id);
      if (!alert) return c.text("No such alert", 404);
      if (!alert.ack) {
        const body = await c.req.parseBody();
        const note = typeof body.note === "string" ? body.note.trim().slice(0, 500) : "";
        await recordUiAction(deps, c, {
          command: "ACK_ALERT",
          object: `alert ${id}`,
          context: {
            rule: alert.rule,
            severity: alert.severity,
            note,
            seqs: alert.seqs.slice(0, 100),
          },
        });
        await deps.alerts.ack(id, c.get("user")!.name, note);
      }
      return c.redirect("/operator", 303);
    },
  );

  return app;
}
