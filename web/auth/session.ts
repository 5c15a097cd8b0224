/**
 * Who is asking: the session middleware resolves the cookie to a live session and its user,
 * and `requireRole` guards each route with the roles allowed there. Pages send a person without
 * a session to the login form; the API answers 401.
 */

import type { MiddlewareHandler } from "hono";
import type { AccessStore, Role } from "../../daemon/access/mod.ts";
import type { WebEnv } from "../env.ts";
import { ForbiddenPage } from "../views/forbidden.tsx";
import { readSessionCookie } from "./cookies.ts";

/** Loads the session of the cookie, if any, onto the context. */
export function loadSession(access: AccessStore, tls: boolean): MiddlewareHandler<WebEnv> {
  return async (c, next) => {
    const id = readSessionCookie(c, tls);
    const session = id === null ? null : access.sessions.get(id);
    c.set("session", session);
    c.set("sessionId", session ? id : null);
    c.set("user", session?.user ?? null);
    c.set("token", null);
    await next();
  };
}

/** Lets through only users of `roles`: others get 403, nobody gets the login page. */
export function requireRole(...roles: Role[]): MiddlewareHandler<WebEnv> {
  return async (c, next) => {
    const user = c.get("user");
    if (!user) {
      const back = new URL(c.req.url);
      const next = c.req.method === "GET" ? back.pathname + back.search : "/";
      return c.redirect(`/login?next=${encodeURIComponent(next)}`, 303);
    }
    if (!roles.includes(user.role)) {
      const csrf = c.get("session")?.csrf ?? null;
      return c.html(ForbiddenPage({ user, csrf, roles }), 403);
    }
    await next();
  };
}

/** The page each role starts on. */
export function homeOf(role: Role): string {
  return role === "auditor" ? "/management" : "/operator";
}
