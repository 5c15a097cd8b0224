/**
 * CSRF defence for every form POST, in two layers: a request whose `Origin` (or, without it,
 * `Sec-Fetch-Site`) shows another site is refused outright, and the form's `_csrf` field must
 * equal the session's token — or, on the login form, the pre-login cookie. SameSite=Strict
 * cookies are a third layer, but not one to rely on alone (older browsers, same-site subdomains).
 */

import type { MiddlewareHandler } from "hono";
import { sameSecret } from "../../daemon/access/secret.ts";
import type { WebEnv } from "../env.ts";
import { readLoginCsrf } from "./cookies.ts";

/** The form field that carries the token. */
export const CSRF_FIELD = "_csrf";

/**
 * True when the request comes from another origin, by the headers browsers send. Fetch
 * metadata first: with `Referrer-Policy: no-referrer` browsers send `Origin: null` on form
 * posts, so the Origin header alone cannot tell; older browsers without `Sec-Fetch-Site` send
 * a real Origin for cross-site posts.
 */
function crossSite(req: Request): boolean {
  const site = req.headers.get("Sec-Fetch-Site");
  if (site !== null) return site !== "same-origin" && site !== "none";
  const origin = req.headers.get("Origin");
  if (origin !== null && origin !== "null") return origin !== new URL(req.url).origin;
  return false;
}

/**
 * Refuses a POST without the right token with 403. `login` selects the pre-login cookie as the
 * expected value instead of the session's token.
 */
export function csrfCheck(opts: { tls: boolean; login?: boolean }): MiddlewareHandler<WebEnv> {
  return async (c, next) => {
    if (c.req.method !== "POST") return next();
    if (crossSite(c.req.raw)) return c.text("Refused: cross-site form submission", 403);
    const expected = opts.login ? readLoginCsrf(c, opts.tls) : c.get("session")?.csrf ?? null;
    let sent: unknown;
    try {
      sent = (await c.req.parseBody())[CSRF_FIELD];
    } catch {
      sent = undefined;
    }
    if (expected === null || typeof sent !== "string" || !sameSecret(sent, expected)) {
      return c.text("Refused: the form's CSRF token is missing or wrong; reload the page", 403);
    }
    return next();
  };
}
