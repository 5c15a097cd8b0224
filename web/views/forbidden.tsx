/** The page shown when a signed-in user's role may not see a page. */

import type { JSX } from "hono/jsx/jsx-runtime";
import type { Role, User } from "../../daemon/access/mod.ts";
import { Layout } from "./layout.tsx";

/** The page, naming the roles that may. */
export const ForbiddenPage = (
  { user, csrf, roles }: { user: User; csrf: string | null; roles: readonly Role[] },
): JSX.Element => (
  <Layout title="Forbidden" user={user} csrf={csrf}>
    <p class="notice bad" role="alert">
      Forbidden: this page is for {roles.join(" or ")}; you are signed in as {user.role}.
    </p>
  </Layout>
);
