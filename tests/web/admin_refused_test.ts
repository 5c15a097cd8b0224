/**
 * A refused Administration change is recorded as refused, with why, and never as done: a role
 * that does not exist, a user or token that does not exist, a weak password, disabling oneself
 * or the last admin. An accepted change is recorded once, without an error.
 */

import { assertEquals, assertMatch } from "../support/assert.ts";
import { Client } from "./_client.ts";
import { uiEvents, withWorld } from "./_harness.ts";

Deno.test("refused user and token changes are in the chain as refused, with why", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    await c.login("admin1");
    const csrf = await c.csrf("/admin");
    const tries: [string, Record<string, string>, string, RegExp][] = [
      ["/admin/users/auditor1/role", { role: "superadmin" }, "USER_ROLE", /role "superadmin"/],
      ["/admin/users/ghost/disable", {}, "USER_DISABLE", /no such user/],
      ["/admin/users/ghost/enable", {}, "USER_ENABLE", /no such user/],
      ["/admin/users/ghost/role", { role: "admin" }, "USER_ROLE", /no such user/],
      ["/admin/users/auditor1/password", { password: "short" }, "USER_PASSWORD_RESET", /12/],
      [
        "/admin/users/ghost/password",
        { password: "a long enough pass phrase" },
        "USER_PASSWORD_RESET",
        /no such user/,
      ],
      ["/admin/tokens/ghost/revoke", {}, "TOKEN_REVOKE", /no token of that name/],
      ["/admin/users/admin1/disable", {}, "USER_DISABLE", /cannot disable yourself/],
      ["/admin/users/admin1/role", { role: "auditor" }, "USER_ROLE", /last active admin/],
      ["/admin/users", { name: "eve", role: "admin", password: "eve" }, "USER_ADD", /password/],
      [
        "/admin/users",
        { name: "bad name!", role: "admin", password: "x".repeat(20) },
        "USER_ADD",
        /user name/,
      ],
      ["/admin/tokens", { name: "app", scope: "write" }, "TOKEN_CREATE", /scopes/],
    ];
    for (const [path, fields] of tries) {
      const res = await c.post(path, { _csrf: csrf, ...fields });
      assertEquals(res.status, 400, path);
      await res.body?.cancel();
    }
    const trail = (await uiEvents(w.dir)).filter((e) => e.command !== "LOGIN");
    assertEquals(trail.map((e) => e.command), tries.map((t) => t[2]));
    trail.forEach((e, i) => {
      assertMatch(e.error ?? "(none)", /^refused: /, `${tries[i]![0]} is recorded as refused`);
      assertMatch(e.error!, tries[i]![3], tries[i]![0]);
    });
    // Nothing was changed either.
    assertEquals(w.access.users.get("auditor1")!.role, "auditor");
    assertEquals(w.access.users.get("admin1")!.disabled, false);
    assertEquals(w.access.users.get("eve"), null);
    assertEquals(w.access.tokens.list(), []);

    // An accepted change: recorded once, as done.
    const ok = await c.post("/admin/users/auditor1/role", { _csrf: csrf, role: "operator" });
    assertEquals(ok.status, 303);
    const roles = (await uiEvents(w.dir)).filter((e) => e.command === "USER_ROLE");
    const done = roles.filter((e) => e.error === undefined);
    assertEquals(done.length, 1);
    assertEquals([done[0]!.object, done[0]!.context], ["user auditor1", { role: "operator" }]);
    assertEquals(roles.length, 4, "three refused role changes and one done");
  });
});
