/** The sign-in form. */

import type { JSX } from "hono/jsx/jsx-runtime";
import { Csrf, Layout } from "./layout.tsx";

/** The form, with an optional message about the last attempt. */
export const LoginPage = (
  { csrf, next, message, name }: { csrf: string; next: string; message?: string; name?: string },
): JSX.Element => (
  <Layout title="Sign in">
    <form class="login" method="post" action="/login">
      {message ? <p class="notice bad" role="alert">{message}</p> : null}
      <Csrf token={csrf} />
      <input type="hidden" name="next" value={next} />
      <label>
        User name
        <input name="name" autocomplete="username" required value={name ?? ""} maxlength={64} />
      </label>
      <label>
        Password
        <input name="password" type="password" autocomplete="current-password" required />
      </label>
      <button type="submit">Sign in</button>
    </form>
  </Layout>
);
