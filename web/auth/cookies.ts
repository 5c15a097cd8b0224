/**
 * The session cookie and the pre-login CSRF cookie: HttpOnly, SameSite=Strict, path /, and
 * under TLS Secure with the `__Host-` prefix, which browsers only accept from a secure origin
 * without a Domain attribute — so no sibling host can plant one.
 */

import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";

const SESSION = "vigil_session";
const LOGIN_CSRF = "vigil_login_csrf";

function name(base: string, tls: boolean): string {
  return tls ? `__Host-${base}` : base;
}

function options(tls: boolean, maxAgeSeconds?: number): Parameters<typeof setCookie>[3] {
  const o: NonNullable<Parameters<typeof setCookie>[3]> = {
    path: "/",
    httpOnly: true,
    sameSite: "Strict",
    secure: tls,
  };
  if (maxAgeSeconds !== undefined) o.maxAge = maxAgeSeconds;
  return o;
}

/** The session cookie's value, or null. */
export function readSessionCookie(c: Context, tls: boolean): string | null {
  return getCookie(c, name(SESSION, tls)) ?? null;
}

/** Sets the session cookie; it lives as long as the session may. */
export function writeSessionCookie(c: Context, tls: boolean, id: string, maxAgeMs: number): void {
  setCookie(c, name(SESSION, tls), id, options(tls, Math.max(1, Math.floor(maxAgeMs / 1000))));
}

/** Removes the session cookie. */
export function clearSessionCookie(c: Context, tls: boolean): void {
  deleteCookie(c, name(SESSION, tls), options(tls));
}

/** The login form's CSRF cookie, or null. */
export function readLoginCsrf(c: Context, tls: boolean): string | null {
  return getCookie(c, name(LOGIN_CSRF, tls)) ?? null;
}

/** Sets the login form's CSRF cookie (double submit: the form carries the same value). */
export function writeLoginCsrf(c: Context, tls: boolean, value: string): void {
  setCookie(c, name(LOGIN_CSRF, tls), value, options(tls, 3600));
}
