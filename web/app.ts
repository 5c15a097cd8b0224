/**
 * The web UI and HTTP API of the appliance, as one Hono app over {@link WebDeps}: security
 * headers on every response, the session on every request, pages per role (Operator, Events,
 * Management, Administration), sign-in, and the application events API. `vigil serve` passes
 * `app.fetch` to `Deno.serve`; tests call `app.request()` or serve it on a loopback port.
 *
 * @example
 * const app = createWebApp({ store, index, status, access, tls: false });
 * Deno.serve({ hostname: "127.0.0.1", port: 8443 }, app.fetch);
 */

import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { createHash } from "node:crypto";
import { log } from "../daemon/log.ts";
import { securityHeaders } from "./auth/headers.ts";
import { homeOf, loadSession } from "./auth/session.ts";
import type { WebDeps } from "./deps.ts";
import type { WebEnv } from "./env.ts";
import { adminRoutes } from "./routes/admin.tsx";
import { apiRoutes } from "./routes/api.ts";
import { eventRoutes } from "./routes/events.tsx";
import { loginRoutes } from "./routes/login.tsx";
import { managementRoutes } from "./routes/management.tsx";
import { operatorRoutes } from "./routes/operator.tsx";
import { STYLE_CSS, STYLE_PATH } from "./static/style.ts";

export type { Alert, AlertStore, ExportsState, ExportTargetState, WebDeps } from "./deps.ts";

/** Largest form body; the API has its own, larger limit. */
const MAX_FORM_BYTES = 64 * 1024;

const STYLE_ETAG = `"${createHash("sha256").update(STYLE_CSS).digest("hex").slice(0, 16)}"`;

/**
 * Builds the app. It is returned as a plain `Hono` so that `vigil serve` can mount it with
 * `app.route("/", …)`: the per-request variables it types internally never cross that boundary.
 */
export function createWebApp(deps: WebDeps): Hono {
  const app = new Hono<WebEnv>();
  app.use("*", securityHeaders(deps.tls));

  app.get(STYLE_PATH, (c) => {
    c.header("ETag", STYLE_ETAG);
    c.header("Cache-Control", "no-cache");
    if (c.req.header("If-None-Match") === STYLE_ETAG) return c.body(null, 304);
    c.header("Content-Type", "text/css; charset=utf-8");
    return c.body(STYLE_CSS);
  });

  app.use("*", loadSession(deps.access, deps.tls));
  app.route("/api/v1", apiRoutes(deps));

  app.use("*", async (c, next) => {
    if (c.req.method === "POST") {
      return bodyLimit({
        maxSize: MAX_FORM_BYTES,
        onError: (c) => c.text("Refused: the form is too large", 413),
      })(c, next);
    }
    await next();
  });

  app.route("/", loginRoutes(deps));
  app.get("/", (c) => {
    const user = c.get("user");
    return c.redirect(user ? homeOf(user.role) : "/login", 303);
  });
  app.route("/", operatorRoutes(deps));
  app.route("/events", eventRoutes(deps));
  app.route("/management", managementRoutes(deps));
  app.route("/", adminRoutes(deps));

  app.notFound((c) => c.text("Not found", 404));
  app.onError((err, c) => {
    log("error", "web request failed", {
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      error: err instanceof Error ? err.message : String(err),
    });
    return c.text("Internal error: the request could not be completed (see the daemon log)", 500);
  });
  return app as unknown as Hono;
}
