/** Sign-in, sessions, security headers, CSRF and role checks, through `app.request()`. */

import { Hono } from "hono";
import { CSP } from "../../web/auth/headers.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { Client } from "./_client.ts";
import { PASSWORD, uiEvents, withWorld } from "./_harness.ts";

Deno.test("every response carries the security headers; HSTS only under TLS", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    for (const path of ["/login", "/static/vigil.css", "/nowhere", "/events"]) {
      const res = await c.request(path);
      await res.body?.cancel();
      assertEquals(res.headers.get("Content-Security-Policy"), CSP, path);
      assertEquals(res.headers.get("X-Content-Type-Options"), "nosniff", path);
      assertEquals(res.headers.get("Referrer-Policy"), "no-referrer", path);
      assertEquals(res.headers.get("Strict-Transport-Security"), null, path);
    }
    assertStringIncludes(CSP, "frame-ancestors 'none'");
    assert(!CSP.includes("unsafe-inline"));
  });
  await withWorld({ tls: true }, async (w) => {
    const res = await new Client(w.app).request("/login");
    await res.body?.cancel();
    assertMatch(res.headers.get("Strict-Transport-Security") ?? "", /max-age=\d+/);
  });
});

Deno.test("sign-in sets an HttpOnly SameSite=Strict cookie, Secure with __Host- under TLS", async () => {
  for (const tls of [false, true]) {
    await withWorld({ tls }, async (w) => {
      const c = new Client(w.app);
      const res = await c.login("admin1");
      assertEquals(res.status, 303);
      const cookie = res.headers.getSetCookie().find((l) => /vigil_session=/.test(l))!;
      assertMatch(cookie, /HttpOnly/);
      assertMatch(cookie, /SameSite=Strict/);
      assertEquals(/Secure/.test(cookie), tls);
      assertEquals(cookie.startsWith("__Host-"), tls);
    });
  }
});

Deno.test("sign-in and failed sign-in are events in the chain, with the client address", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app, "203.0.113.9");
    assertEquals((await c.login("auditor1", "not the password")).status, 401);
    assertEquals((await c.login("auditor1")).status, 303);
    const events = await uiEvents(w.dir);
    assertEquals(events.map((e) => [e.command, e.role, e.client_addr, e.kind]), [
      ["LOGIN_FAILED", "auditor1", "203.0.113.9", "app"],
      ["LOGIN", "auditor1", "203.0.113.9", "app"],
    ]);
    assertEquals(events[0]!.error, "wrong user name or password");
  });
});

Deno.test("five failed sign-ins lock the account with a message; the right password is refused", async () => {
  let now = Date.now();
  await withWorld({ now: () => now }, async (w) => {
    const c = new Client(w.app);
    for (let i = 0; i < 4; i++) {
      assertEquals((await c.login("operator1", "guess " + i)).status, 401);
    }
    const fifth = await c.login("operator1", "guess 5");
    assertEquals(fifth.status, 429);
    const text = await fifth.text();
    assertMatch(text, /Too many failed sign-ins for this account\. Sign-in is locked until/);
    const right = await c.login("operator1", PASSWORD);
    assertEquals(right.status, 429);
    await right.body?.cancel();
    assert(!c.has("vigil_session"), "no session while locked");
    // Five are events of their own; the sixth, from the same address in the same minute, is
    // counted and in the chain once the minute is over (here: at the next try after it).
    let failed = (await uiEvents(w.dir)).filter((e) => e.command === "LOGIN_FAILED");
    assertEquals(failed.length, 5);
    assertMatch(failed[4]!.error ?? "", /locked out \(user\)/);
    now += 61_000;
    assertEquals((await c.login("operator1", "guess 7")).status, 429);
    failed = (await uiEvents(w.dir)).filter((e) => e.command === "LOGIN_FAILED");
    assertEquals(failed.length, 7);
    assertEquals(failed[5]!.context?.aggregated, true);
    assertEquals([failed[5]!.context?.attempts, failed[5]!.context?.locked], [1, 1]);
    assertEquals([failed[5]!.role, failed[5]!.client_addr], ["operator1", c.addr]);
    assertMatch(failed[6]!.error ?? "", /locked out \(user\)/);
  });
});

Deno.test("a form POST without the right CSRF token, or from another origin, is refused", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    await c.login("admin1");
    const fields = { name: "eve", role: "admin", password: "a long enough passphrase" };
    assertEquals((await c.post("/admin/users", fields)).status, 403);
    assertEquals((await c.post("/admin/users", { ...fields, _csrf: "x".repeat(43) })).status, 403);
    const token = await c.csrf();
    const cross = await c.request("/admin/users", {
      method: "POST",
      body: new URLSearchParams({ ...fields, _csrf: token }),
      headers: { Origin: "https://evil.example" },
    });
    assertEquals(cross.status, 403);
    const fetched = await c.request("/admin/users", {
      method: "POST",
      body: new URLSearchParams({ ...fields, _csrf: token }),
      headers: { "Sec-Fetch-Site": "cross-site", Origin: "null" },
    });
    assertEquals(fetched.status, 403);
    assertEquals(w.access.users.get("eve"), null);
    assertEquals((await c.post("/admin/users", { ...fields, _csrf: token })).status, 303);
    assertEquals(w.access.users.get("eve")?.role, "admin");
    // The login form has its own token: a login POST without it is refused too.
    const fresh = new Client(w.app);
    const res = await fresh.post("/login", { name: "admin1", password: PASSWORD });
    assertEquals(res.status, 403);
  });
});

Deno.test("each route admits only its roles", async () => {
  await withWorld({}, async (w) => {
    const anon = new Client(w.app);
    const r = await anon.request("/events");
    assertEquals(r.status, 303);
    assertEquals(r.headers.get("Location"), "/login?next=%2Fevents");
    const table: [string, string, number][] = [
      ["operator1", "/operator", 200],
      ["operator1", "/events", 403],
      ["operator1", "/management", 403],
      ["operator1", "/admin", 403],
      ["auditor1", "/events", 200],
      ["auditor1", "/management", 200],
      ["auditor1", "/operator", 403],
      ["auditor1", "/admin", 403],
      ["admin1", "/admin", 200],
      ["admin1", "/events/3", 200],
      ["operator1", "/keys/signing.pub.pem", 200],
    ];
    const clients = new Map<string, Client>();
    for (const [user, path, status] of table) {
      if (!clients.has(user)) {
        const c = new Client(w.app);
        await c.login(user);
        clients.set(user, c);
      }
      const res = await clients.get(user)!.request(path);
      await res.body?.cancel();
      assertEquals(res.status, status, `${user} ${path}`);
    }
    const op = clients.get("operator1")!;
    const api = await op.request("/api/v1/events");
    assertEquals(api.status, 403);
    await api.body?.cancel();
  });
});

Deno.test("sign-out ends the session and is recorded", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    await c.login("auditor1");
    const token = await c.csrf();
    // A copy of the session cookie taken before signing out must be dead afterwards.
    const stolen = new Client(w.app);
    stolen.setCookie("vigil_session", c.cookie("vigil_session")!);
    const before = await stolen.request("/management");
    assertEquals(before.status, 200);
    await before.body?.cancel();
    assertEquals((await c.post("/logout", { _csrf: token })).status, 303);
    assert(!c.has("vigil_session"));
    assertEquals((await uiEvents(w.dir)).at(-1)?.command, "LOGOUT");
    const res = await stolen.request("/management");
    assertEquals(res.status, 303);
    await res.body?.cancel();
  });
});

Deno.test("mounted under a parent app, as vigil serve does, the UI keeps its headers and sign-in", async () => {
  await withWorld({}, async (w) => {
    const parent = new Hono();
    parent.get("/healthz", (c) => c.text("ok"));
    parent.route("/", w.app);
    const c = new Client(parent, "198.51.100.77");
    const login = await c.page("/login");
    assertEquals(login.status, 200);
    assertEquals(login.res.headers.get("Content-Security-Policy"), CSP);
    assertEquals((await c.login("operator1")).status, 303);
    assertEquals((await c.page("/operator")).status, 200);
    assertEquals((await uiEvents(w.dir)).at(-1)?.client_addr, "198.51.100.77");
  });
});
