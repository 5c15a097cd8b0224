/**
 * Events posted with a token can never pass for a source's or Vigil's own: a token posts `app`
 * events only, never Vigil's commands or context keys, is never named like a configured source
 * or `vigil…`, and its identity is in each event it posts, in the chain.
 */

import { readLog } from "../../daemon/store/log_reader.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { Client } from "./_client.ts";
import { uiEvents, withWorld, type World } from "./_harness.ts";

/** Creates a token through the Administration page; returns the response and the token. */
async function create(
  w: World,
  name: string,
): Promise<{ status: number; html: string; token: string | null }> {
  const admin = new Client(w.app);
  await admin.login("admin1");
  const res = await admin.post("/admin/tokens", {
    _csrf: await admin.csrf("/admin"),
    name,
    scope: ["ingest"],
  });
  const html = await res.text();
  return {
    status: res.status,
    html,
    token: /<code>(vigil_[A-Za-z0-9_-]+)<\/code>/.exec(html)?.[1] ?? null,
  };
}

function post(w: World, token: string, body: unknown): Promise<Response> {
  return Promise.resolve(w.app.request("/api/v1/events", {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
  }));
}

Deno.test("a token posts app events only, never Vigil's commands or context keys", async () => {
  await withWorld({}, async (w) => {
    const { token } = await create(w, "shop");
    assert(token !== null, "the token is shown");
    const size = w.store.size;
    const refused: [unknown, string, RegExp][] = [
      [{ kind: "system", command: "NOISE" }, "kind", /"app" events only/],
      [{ kind: "system", command: "WAL_GAP" }, "kind", /"app" events only/],
      [{ kind: "row_change", object: "public.accounts" }, "kind", /"app" events only/],
      [{ kind: "app", command: "WAL_GAP" }, "command", /reserved/],
      [{ kind: "app", command: "daemon_stop" }, "command", /reserved/],
      [{ kind: "app", command: "PGAUDIT_FILE_UNREAD" }, "command", /reserved/],
      [{ kind: "app", command: "KEY_ROTATE" }, "command", /reserved/],
      [{ kind: "app", context: { audit_reduced: true } }, "context", /reserved/],
      [{ kind: "app", context: { vigil_token: { id: 1 } } }, "context", /reserved/],
    ];
    for (const [event, field, message] of refused) {
      const res = await post(w, token, [{ kind: "app", command: "OK" }, event]);
      assertEquals(res.status, 400, JSON.stringify(event));
      const err = await res.json();
      assertEquals([err.index, err.field], [1, field], JSON.stringify(event));
      assertMatch(err.error, message);
    }
    assertEquals(w.store.size, size, "nothing of a refused batch is stored");
  });
});

Deno.test("each event a token posts carries the token's identity in the chain", async () => {
  await withWorld({}, async (w) => {
    const { token } = await create(w, "shop");
    const info = w.access.tokens.get("shop")!;
    const res = await post(w, token!, [
      { kind: "app", command: "EXPORT_CSV", context: { rows: 12 } },
      { kind: "app", command: "LOGIN", app_user: "ada" },
    ]);
    assertEquals(res.status, 201);
    const { first_seq } = await res.json();
    const stored = [];
    for await (const r of readLog(w.dir, { fromSeq: first_seq })) stored.push(r.event);
    const id = { id: info.id, name: "shop", prefix: info.prefix };
    assertEquals(stored.map((e) => [e.source, e.kind, e.token, e.context]), [
      ["shop", "app", "shop", { rows: 12, vigil_token: id }],
      ["shop", "app", "shop", { vigil_token: id }],
    ]);
    assert(token!.startsWith(info.prefix), "the prefix is the token's first characters");
    // The token field is Vigil's to set: a post that names one is refused whole.
    const forged = await post(w, token!, [{ kind: "app", command: "X", token: "billing" }]);
    assertEquals(forged.status, 400);
    assertEquals((await forged.json()).field, "token");
    // Searchable: a text search for the token's name finds its events (and nothing else).
    const auditor = new Client(w.app);
    await auditor.login("auditor1");
    const found = await (await auditor.request("/api/v1/events?text=SHOP")).json();
    assertEquals(
      found.events.map((e: { seq: number; token: string }) => [e.seq, e.token]),
      [[first_seq + 1, "shop"], [first_seq, "shop"]],
    );
  });
});

Deno.test("a token cannot be named like a configured source or vigil…; the refusal is recorded", async () => {
  await withWorld({}, async (w) => {
    // The world's daemon runs the sources "billing" and "billing-log".
    for (
      const name of ["billing", "billing-log", "vigil", "vigil-ui", "vigil-detect", "vigilant"]
    ) {
      const r = await create(w, name);
      assertEquals(r.status, 400, name);
      assertEquals(r.token, null, name);
      assertEquals(w.access.tokens.get(name), null, name);
    }
    const trail = (await uiEvents(w.dir)).filter((e) => e.command === "TOKEN_CREATE");
    assertEquals(trail.length, 6);
    assert(trail.every((e) => /^refused: /.test(e.error ?? "")), "recorded as refused");
    assertMatch(trail[0]!.error!, /configured source is named "billing"/);
    assertMatch(trail[2]!.error!, /does not start with "vigil"/);
  });
});

Deno.test("a token made before the check, named like a configured source, cannot post", async () => {
  await withWorld({}, async (w) => {
    // As a store from before this check holds it: created without the sources to compare with.
    const { token } = w.access.tokens.create("billing", ["ingest"], "admin1");
    const size = w.store.size;
    const res = await post(w, token, [{ kind: "app", command: "EXPORT_CSV" }]);
    assertEquals(res.status, 403);
    assertMatch((await res.json()).error, /named like the configured source billing/);
    assertEquals(w.store.size, size);
  });
});
