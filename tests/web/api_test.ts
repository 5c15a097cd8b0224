/** The application events API: bearer tokens, validation, limits and durability. */

import { readLog } from "../../daemon/store/log_reader.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { Client } from "./_client.ts";
import { withWorld, type World } from "./_harness.ts";

/** Creates a token through the Administration page, as an admin would; returns its text. */
async function createToken(w: World, name: string, scopes: string[]): Promise<string> {
  const admin = new Client(w.app);
  await admin.login("admin1");
  const res = await admin.post("/admin/tokens", {
    _csrf: await admin.csrf("/admin"),
    name,
    scope: scopes,
  });
  assertEquals(res.status, 200);
  const m = /<code>(vigil_[A-Za-z0-9_-]+)<\/code>/.exec(await res.text());
  assert(m, "the new token is shown once");
  const again = await admin.page("/admin");
  assert(!again.html.includes(m[1]!), "and not shown again");
  return m[1]!;
}

function post(w: World, token: string | null, body: string, type = "application/json") {
  const headers: Record<string, string> = { "Content-Type": type };
  if (token) headers.Authorization = `Bearer ${token}`;
  return w.app.request("/api/v1/events", { method: "POST", body, headers });
}

Deno.test("POST /api/v1/events answers 201 only when the events are in the log", async () => {
  await withWorld({}, async (w) => {
    const token = await createToken(w, "shop", ["ingest"]);
    const before = w.store.size;
    const events = [
      { kind: "app", ts: "2026-01-01T10:00:00Z", app_user: "ada", command: "EXPORT_CSV" },
      { kind: "app", app_user: "bob", command: "LOGIN", client_addr: "198.51.100.4" },
    ];
    const res = await post(w, token, JSON.stringify(events));
    assertEquals(res.status, 201);
    const body = await res.json();
    assertEquals(body, { stored: 2, first_seq: before, last_seq: before + 1 });
    // Durable: another reader of the data directory sees them now, from the files.
    const stored = [];
    for await (const r of readLog(w.dir, { fromSeq: before })) stored.push(r.event);
    assertEquals(stored.map((e) => [e.source, e.app_user, e.command]), [
      ["shop", "ada", "EXPORT_CSV"],
      ["shop", "bob", "LOGIN"],
    ]);
    assertEquals(stored[0]!.ts, Date.UTC(2026, 0, 1, 10) * 1000);
    assert(w.access.tokens.get("shop")!.lastUsedAt !== null, "use is recorded");

    const lines = '{"kind":"app","command":"A"}\n\n{"kind":"app","command":"B"}\n';
    const nd = await post(w, token, lines, "application/x-ndjson");
    assertEquals(nd.status, 201);
    assertEquals((await nd.json()).stored, 2);
  });
});

Deno.test("POST /api/v1/events refuses a bad event with 400 naming its index and field", async () => {
  await withWorld({}, async (w) => {
    const token = await createToken(w, "shop", ["ingest"]);
    const size = w.store.size;
    const cases: [unknown, number, string | null, RegExp][] = [
      [[{ kind: "app" }, { kind: "nope" }], 1, "kind", /event 1: field "kind"/],
      [[{ kind: "app", seq: 5 }], 0, "seq", /assigned by the store/],
      [[{ kind: "app", source: "billing" }], 0, "source", /differs from the ingest source/],
      [[{ kind: "app", colour: "red" }], 0, "colour", /not an event field/],
      [[{ kind: "app" }, "text"], 1, null, /not a JSON object/],
    ];
    for (const [body, index, field, msg] of cases) {
      const res = await post(w, token, JSON.stringify(body));
      assertEquals(res.status, 400);
      const err = await res.json();
      assertEquals([err.index, err.field], [index, field]);
      assertMatch(err.error, msg);
    }
    const bad = await post(w, token, "[{");
    assertEquals(bad.status, 400);
    assertStringIncludes((await bad.json()).error, "not JSON");
    assertEquals(w.store.size, size, "nothing of a refused batch is stored");
  });
});

Deno.test("POST /api/v1/events: 413 past 1000 events or 1 MiB; 401 and 403 without the right token", async () => {
  await withWorld({}, async (w) => {
    const ingest = await createToken(w, "shop", ["ingest"]);
    const reader = await createToken(w, "reports", ["read"]);
    const many = JSON.stringify(Array.from({ length: 1001 }, () => ({ kind: "app" })));
    assertEquals((await post(w, ingest, many)).status, 413);
    const big = JSON.stringify([{ kind: "app", statement: "x".repeat(1024 * 1024) }]);
    assertEquals((await post(w, ingest, big)).status, 413);
    const none = await post(w, null, "[]");
    assertEquals(none.status, 401);
    assertMatch(none.headers.get("WWW-Authenticate") ?? "", /Bearer/);
    assertEquals((await post(w, "vigil_forged", "[]")).status, 401);
    assertEquals((await post(w, reader, '[{"kind":"app"}]')).status, 403);
    w.access.tokens.revoke("shop", "admin1");
    assertEquals((await post(w, ingest, '[{"kind":"app"}]')).status, 401);
    // A signed-in admin's cookie is not a way to post events.
    const admin = new Client(w.app);
    await admin.login("admin1");
    const res = await admin.request("/api/v1/events", {
      method: "POST",
      body: '[{"kind":"app"}]',
      headers: { "Content-Type": "application/json" },
    });
    assertEquals(res.status, 403);
    await res.body?.cancel();
  });
});

Deno.test("GET /api/v1/events searches with the query filters and pages by seq", async () => {
  await withWorld({}, async (w) => {
    const reader = await createToken(w, "reports", ["read"]);
    const get = (q: string) =>
      w.app.request(`/api/v1/events?${q}`, { headers: { Authorization: `Bearer ${reader}` } });
    const first = await (await get("role=alice&limit=10")).json();
    assertEquals(first.events.length, 10);
    assert(first.events.every((e: { role: string }) => e.role === "alice"));
    const second = await (await get(`role=alice&limit=10&before=${first.next_before}`)).json();
    assert(second.events[0].seq < first.events[9].seq, "the next page is older");
    const bad = await get("kind=weird");
    assertEquals(bad.status, 400);
    assertMatch((await bad.json()).error, /kind/);
    const auditor = new Client(w.app);
    await auditor.login("auditor1");
    const viaSession = await auditor.request("/api/v1/events?text=script");
    assertEquals((await viaSession.json()).events.map((e: { seq: number }) => e.seq), [120]);
  });
});

Deno.test("POST /api/v1/events keeps numbers a double would change as their digits", async () => {
  await withWorld({}, async (w) => {
    const token = await createToken(w, "ledger", ["ingest"]);
    const before = w.store.size;
    const body = '[{"kind":"app","command":"TRANSFER","context":{"amount":12345678901234567890,' +
      '"small":42}}]';
    assertEquals((await post(w, token, body)).status, 201);
    const [stored] = (await Array.fromAsync(readLog(w.store.dataDir, { fromSeq: before })))
      .filter((r) => r.event.command === "TRANSFER");
    assertStringIncludes(stored!.json, '"amount":"12345678901234567890"');
    assertStringIncludes(stored!.json, '"small":42');
  });
});
