/**
 * Sign in and sign out. Each sign-in is an event in the chain (LOGIN), and so is each refused
 * one (LOGIN_FAILED, with the name tried and the client address) — past a few per address and
 * minute counted and written aggregated (`../sign_in_trail.ts`), so that strangers cannot make
 * the appliance write without bound; a locked account or address gets a message saying until
 * when. A new session id is issued on every sign-in, so a planted cookie cannot be promoted.
 */

import { Hono } from "hono";
import { randomSecret } from "../../daemon/access/secret.ts";
import { recordUiAction } from "../audit_trail.ts";
import { clearSessionCookie, writeLoginCsrf, writeSessionCookie } from "../auth/cookies.ts";
import { csrfCheck } from "../auth/csrf.ts";
import { homeOf } from "../auth/session.ts";
import type { WebDeps } from "../deps.ts";
import { clientAddr, type WebContext, type WebEnv } from "../env.ts";
import { wallTime } from "../views/format.ts";
import { LoginPage } from "../views/login.tsx";
import { SignInTrail } from "../sign_in_trail.ts";

/** Only a local path may be a redirect target: never `//host` or a scheme. */
function safeNext(next: unknown): string | null {
  if (typeof next !== "string" || !next.startsWith("/") || next.startsWith("//")) return null;
  // deno-lint-ignore no-control-regex
  if (next.includes("\\") || /[\u0000-\u001f]/.test(next)) return null;
  return next;
}

function form(c: WebContext, deps: WebDeps, status: 200 | 401 | 429, opts: {
  next: string;
  message?: string;
  name?: string;
}): Response | Promise<Response> {
  const csrf = randomSecret();
  writeLoginCsrf(c, deps.tls, csrf);
  return c.html(<LoginPage csrf={csrf} {...opts} />, status);
}

/** Routes /login and /logout. */
export function loginRoutes(deps: WebDeps): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  const now = deps.now ?? Date.now;
  const refusals = new SignInTrail(deps);

  app.get("/login", (c) => {
    const user = c.get("user");
    const next = safeNext(c.req.query("next")) ?? "";
    if (user) return c.redirect(next || homeOf(user.role), 303);
    return form(c, deps, 200, { next });
  });

  app.post("/login", csrfCheck({ tls: deps.tls, login: true }), async (c) => {
    const body = await c.req.parseBody();
    const name = typeof body.name === "string" ? body.name.slice(0, 64) : "";
    const password = typeof body.password === "string" ? body.password : "";
    const next = safeNext(body.next) ?? "";
    const result = await deps.access.login(name, password.slice(0, 1024), clientAddr(c));
    if (!result.ok) {
      const locked = result.reason === "locked";
      await refusals.refused({
        name,
        addr: clientAddr(c),
        locked,
        error: locked
          ? `locked out (${result.lockout.scope}) until ${wallTime(result.lockout.until)}`
          : "wrong user name or password",
      });
      const message = locked
        ? `Too many failed sign-ins for this ${
          result.lockout.scope === "user" ? "account" : "address"
        }. Sign-in is locked until ${wallTime(result.lockout.until)} (in about ${
          Math.max(1, Math.ceil((result.lockout.until - now()) / 60_000))
        } min).`
        : "Wrong user name or password.";
      return form(c, deps, locked ? 429 : 401, { next, message, name });
    }
    await recordUiAction(deps, c, { command: "LOGIN", actor: result.user.name });
    writeSessionCookie(c, deps.tls, result.session.id, result.session.expiresAt - now());
    return c.redirect(next || homeOf(result.user.role), 303);
  });

  app.post("/logout", csrfCheck({ tls: deps.tls }), async (c) => {
    const id = c.get("sessionId");
    if (id !== null) {
      await recordUiAction(deps, c, { command: "LOGOUT" });
      deps.access.sessions.end(id);
    }
    clearSessionCookie(c, deps.tls);
    return c.redirect("/login", 303);
  });

  return app;
}
