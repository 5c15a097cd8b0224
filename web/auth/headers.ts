/**
 * Security headers on every response: a CSP that allows no inline script or style and no
 * framing, no MIME sniffing, no referrer leaking event URLs, and HSTS when served over TLS.
 * Pages that show audit data are also kept out of shared caches.
 */

import type { MiddlewareHandler } from "hono";

/** The Content-Security-Policy of every response. */
export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Middleware setting the headers after the handler ran. */
export function securityHeaders(tls: boolean): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const h = c.res.headers;
    h.set("Content-Security-Policy", CSP);
    h.set("X-Content-Type-Options", "nosniff");
    h.set("Referrer-Policy", "no-referrer");
    h.set("X-Frame-Options", "DENY");
    h.set("Cross-Origin-Opener-Policy", "same-origin");
    h.set("Cross-Origin-Resource-Policy", "same-origin");
    h.set("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
    if (tls) h.set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    if (!h.has("Cache-Control")) h.set("Cache-Control", "no-store");
  };
}
