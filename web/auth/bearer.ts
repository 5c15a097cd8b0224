/**
 * API authentication: `Authorization: Bearer vigil_…` tokens, checked against their stored
 * hashes, each with its scopes. A session cookie also works for reading, for people who are
 * signed in to the UI — but never for writing, so no form elsewhere can post events.
 */

import type { MiddlewareHandler } from "hono";
import type { AccessStore, Role, TokenScope } from "../../daemon/access/mod.ts";
import type { WebEnv } from "../env.ts";

/**
 * Lets through a request with a live token of `scope`, or (when `roles` is given) a signed-in
 * user of one of `roles`; answers 401 or 403 with a JSON error otherwise.
 */
export function requireApiAccess(
  access: AccessStore,
  scope: TokenScope,
  roles: Role[] = [],
): MiddlewareHandler<WebEnv> {
  return async (c, next) => {
    const header = c.req.header("Authorization");
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      const token = m ? access.tokens.authenticate(m[1]!) : null;
      if (!token) {
        c.header("WWW-Authenticate", 'Bearer realm="vigil", error="invalid_token"');
        return c.json({ error: "the bearer token is unknown, malformed or revoked" }, 401);
      }
      if (!token.scopes.includes(scope)) {
        return c.json({ error: `the token ${token.name} lacks the scope ${scope}` }, 403);
      }
      // A token acts as itself, never with a session that may ride along.
      c.set("user", null);
      c.set("session", null);
      c.set("token", token);
      await next();
      return;
    }
    const user = c.get("user");
    if (user && roles.includes(user.role)) {
      await next();
      return;
    }
    if (user) return c.json({ error: `role ${user.role} may not ${scope} events` }, 403);
    c.header("WWW-Authenticate", 'Bearer realm="vigil"');
    return c.json({ error: "authentication required: Authorization: Bearer TOKEN" }, 401);
  };
}
