/**
 * The Hono environment of the web app: what middleware puts on the context for handlers — the
 * logged-in user and session, or the API token — and the client address.
 */

import type { Context } from "hono";
import type { ApiToken, Role, Session, User } from "../daemon/access/mod.ts";

/** Per-request values. */
export interface WebVariables {
  user: User | null;
  session: Session | null;
  /** The cookie value, needed to end the session on logout. */
  sessionId: string | null;
  token: ApiToken | null;
}

/** The app's Hono environment. */
export interface WebEnv {
  Variables: WebVariables;
}

/** The context of a handler of this app. */
export type WebContext = Context<WebEnv>;

/**
 * The TCP peer address. Deno.serve passes its connection info as the app's `env`; requests
 * made in tests without it come from "unknown". Forwarded headers are not trusted: Vigil is
 * reached directly, and a header is whatever the client wants it to be.
 */
export function clientAddr(c: Context): string {
  const info = c.env as { remoteAddr?: { hostname?: unknown } } | undefined;
  const host = info?.remoteAddr?.hostname;
  return typeof host === "string" && host !== "" ? host : "unknown";
}

/** Who acts, as it goes into the chain: the user's name, or `token:NAME`. */
export function actorName(c: WebContext): string {
  const u = c.get("user");
  if (u) return u.name;
  const t = c.get("token");
  return t ? `token:${t.name}` : "anonymous";
}

/** The role of the user, or null for a token or nobody. */
export function userRole(c: WebContext): Role | null {
  return c.get("user")?.role ?? null;
}
