/**
 * The daemon's own HTTP endpoints, before any web UI route: `GET /healthz` (no authentication,
 * for systemd, load balancers and container health checks: 200 when the store, every source and
 * detection are healthy and the store's checks found it intact, else 503, with the store's
 * checks, per-source and detection state as JSON) and
 * `GET /metrics` (Prometheus text).
 * Neither shows audit data; both show source names and error texts, which the config file and
 * the daemon itself wrote.
 */

import { Hono } from "hono";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import type { IntegrityStatus, StatusProvider } from "./status.ts";

/** The health and metrics routes over a status provider. */
export function healthRoutes(status: StatusProvider, now: () => number = Date.now): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => {
    const s = status.current();
    c.header("Cache-Control", "no-store");
    return c.json(
      {
        status: s.healthy ? "ok" : "degraded",
        version: s.version,
        uptime_seconds: Math.round((now() - s.startedAt) / 1000),
        store: {
          healthy: s.store.lastError === null && (s.store.integrity?.healthy ?? true),
          events: s.store.size,
          bytes: s.store.bytes,
          disk_free_bytes: s.store.diskFreeBytes,
          last_checkpoint: s.store.lastCheckpoint,
          error: s.store.lastError?.message ?? null,
          integrity: s.store.integrity ? integrityJson(s.store.integrity) : null,
        },
        sources: s.sources.map((src) => ({
          name: src.name,
          type: src.type,
          state: src.state,
          healthy: src.healthy,
          events: src.events,
          restarts: src.restarts,
          last_event_age_seconds: src.lastEventTs === null
            ? null
            : Math.max(0, Math.round(now() / 1000 - src.lastEventTs / 1e6)),
          gauges: src.gauges,
          error: src.lastError === null
            ? null
            : { message: src.lastError.message, stage: src.lastError.stage },
        })),
        detection: s.detection ?? null,
      },
      s.healthy ? 200 : 503,
    );
  });
  app.get("/metrics", (c) => {
    c.header("Content-Type", METRICS_CONTENT_TYPE);
    c.header("Cache-Control", "no-store");
    return c.body(renderMetrics(status.current(), now()));
  });
  return app;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** The store's checks as `/healthz` shows them: snake_case, times in RFC 3339. */
function integrityJson(i: IntegrityStatus): Record<string, unknown> {
  const v = i.lastVerification;
  return {
    state: i.state,
    healthy: i.healthy,
    problem: i.problem,
    start_check: {
      ok: i.startCheck.ok,
      at: iso(i.startCheck.at),
      seconds: i.startCheck.seconds,
      segments: i.startCheck.segments,
      problem: i.startCheck.problem,
    },
    last_verification: v === null ? null : {
      ok: v.ok,
      trigger: v.trigger,
      started: iso(v.startedAt),
      finished: iso(v.finishedAt),
      events: v.events,
      checkpoints: v.checkpoints,
      problem: v.problem,
    },
    verifying_since: iso(i.verifying?.since ?? null),
    next_verification: iso(i.nextAt),
    ...(i.checkpointCopy === undefined ? {} : {
      checkpoint_copy: {
        path: i.checkpointCopy.path,
        last_size: i.checkpointCopy.lastSize,
        error: i.checkpointCopy.error,
      },
    }),
  };
}
