/**
 * The web UI and HTTP API of the appliance, as one Hono app over {@link WebDeps}: security
 * headers on every response, the session on every request, pages per role (Operator, Events,
 * Management, Administration), sign-in, and the application events API. `vigil serve` serves
 * `app.fetch` with read timeouts (`daemon/serve/http_server.ts`); tests call `app.request()` or
 * serve it on a loopback port. A request that cannot be recorded because the disk is full is
 * answered 503: nothing is shown or changed without its trace in the chain.
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

/**
 * True for the errors of a file system or database that cannot take more — the store's append
 * on a full disk (ENOSPC), SQLite's SQLITE_FULL — which a later request may not meet.
 */
function storageFull(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 4; depth++) {
    const text = e instanceof Error ? e.message : String(e);
    if (/No space left on device|os error 28|database or disk is full/i.test(text)) return true;
    e = e instanceof Error ? e.cause : undefined;
  }
  return false;
}

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
    const path = new URL(c.req.url).pathname;
    const error = err instanceof Error ? err.message : String(err);
    if (storageFull(err)) {
      // Nothing is shown or changed that cannot be recorded: the request may be tried again.
      log("error", "web request refused: the store cannot record it", { path, error });
      const message = "the appliance cannot record this request now (its disk is full); " +
        "try again later";
      c.header("Retry-After", "60");
      return path.startsWith("/api/")
        ? c.json({ error: message }, 503)
        : c.text(`Unavailable: ${message}`, 503);
    }
    log("error", "web request failed", { method: c.req.method, path, error });
    return c.text("Internal error: the request could not be completed (see the daemon log)", 500);
  });
  return app as unknown as Hono;
}
