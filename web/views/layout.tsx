/**
 * The one page layout: header with the navigation the user's role allows, the sign-out form
 * with its CSRF token, and the content. No inline script or style: the CSP forbids both.
 */

import type { Child } from "hono/jsx";
import type { JSX } from "hono/jsx/jsx-runtime";
import type { Role, User } from "../../daemon/access/mod.ts";
import { CSRF_FIELD } from "../auth/csrf.ts";
import { STYLE_PATH } from "../static/style.ts";

/** Navigation entries and who sees them. */
const NAV: { href: string; label: string; roles: Role[] }[] = [
  { href: "/operator", label: "Operator", roles: ["admin", "operator"] },
  { href: "/events", label: "Events", roles: ["admin", "auditor"] },
  { href: "/management", label: "Management", roles: ["admin", "auditor"] },
  { href: "/admin", label: "Administration", roles: ["admin"] },
];

/** Hidden CSRF field for a form of the current session. */
export const Csrf = ({ token }: { token: string }): JSX.Element => (
  <input type="hidden" name={CSRF_FIELD} value={token} />
);

/** The page. `user` and `csrf` are absent on the login page. */
export const Layout = ({ title, user, csrf, active, refreshSeconds, children }: {
  title: string;
  user?: User | null;
  csrf?: string | null;
  active?: string;
  refreshSeconds?: number;
  children?: Child;
}): JSX.Element => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      {refreshSeconds ? <meta http-equiv="refresh" content={String(refreshSeconds)} /> : null}
      <title>{title} · Vigil</title>
      <link rel="stylesheet" href={STYLE_PATH} />
    </head>
    <body>
      <header class="top">
        <a class="brand" href="/">Vigil</a>
        {user
          ? (
            <nav>
              {NAV.filter((n) => n.roles.includes(user.role)).map((n) => (
                <a href={n.href} class={active === n.href ? "active" : undefined}>{n.label}</a>
              ))}
            </nav>
          )
          : null}
        {user && csrf
          ? (
            <form class="who" method="post" action="/logout">
              <span>
                {user.name} <small>({user.role})</small>
              </span>
              <Csrf token={csrf} />
              <button type="submit">Sign out</button>
            </form>
          )
          : null}
      </header>
      <main>
        <h1>{title}</h1>
        {children}
      </main>
    </body>
  </html>
);
