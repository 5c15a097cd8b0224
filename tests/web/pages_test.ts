/** The Operator, Management and Administration pages through `app.request()`. */

import { publicKeyPem, readPublicKey } from "../../daemon/store/keys.ts";
import { patchFile, segmentPaths } from "../support/store.ts";
import {
  assert,
  assertEquals,
  assertEventually,
  assertMatch,
  assertStringIncludes,
} from "../support/assert.ts";
import { Client } from "./_client.ts";
import { uiEvents, withWorld } from "./_harness.ts";

Deno.test("the Operator page shows source health, charts, store headroom and open alerts", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    await c.login("operator1");
    const { html } = await c.page("/operator");
    assertMatch(html, /<tr data-source="billing">.*?class="ok">running/s);
    assertMatch(html, /<tr data-source="billing-log">.*?class="bad">backoff \(unhealthy\)/s);
    assertStringIncludes(html, "permission denied");
    assertStringIncludes(html, "80.0 KiB"); // billing's lag_bytes
    assertStringIncludes(html, "50.0 GiB free");
    assertMatch(html, /<svg class="chart"[^>]*data-source="billing" data-points="360"/);
    assertStringIncludes(html, "&lt;b&gt;markup&lt;/b&gt;"); // the alert's reason, as text
    const viewed = (await uiEvents(w.dir)).at(-1)!;
    assertEquals([viewed.command, viewed.context], ["VIEW_ALERTS", { alerts: [1] }]);
    const day = (await c.page("/operator?window=day")).html;
    assertMatch(day, /data-source="billing" data-points="288"/);
  });
});

Deno.test("acknowledging an alert records ACK_ALERT and who reviewed it", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    await c.login("operator1");
    const csrf = await c.csrf("/operator");
    assertEquals((await c.post("/alerts/1/ack", { _csrf: csrf, note: "maintenance" })).status, 303);
    assertEquals(w.alerts.get(1)?.ack?.by, "operator1");
    assertEquals(w.alerts.get(1)?.ack?.note, "maintenance");
    const ev = (await uiEvents(w.dir)).at(-1)!;
    assertEquals([ev.command, ev.object, ev.role], ["ACK_ALERT", "alert 1", "operator1"]);
    assertStringIncludes((await c.page("/operator")).html, "No open alerts.");
    assertEquals((await c.post("/alerts/1/ack", {})).status, 403, "CSRF still applies");
  });
  await withWorld({ alerts: false }, async (w) => {
    const c = new Client(w.app);
    await c.login("operator1");
    assertStringIncludes((await c.page("/operator")).html, "Alerting is not configured.");
  });
});

Deno.test("Management: verification on demand is recorded; gaps and coverage come from the index", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    await c.login("auditor1");
    const first = await c.page("/management?from=2025-12-30&to=2026-01-02");
    assertStringIncludes(first.html, "Never verified from the UI.");
    assertMatch(first.html, /<table id="gaps">.*WAL_GAP.*slot was dropped/s);
    assertMatch(first.html, /<td>billing<\/td><td class="num">123<\/td>/);
    assertMatch(first.html, /signature<\/dt><dd class="ok">valid/);
    assertEquals(
      (await c.post("/management/verify", { _csrf: Client.csrfOf(first.html) })).status,
      303,
    );
    await assertEventually(() => w.access.verifyRuns.latest(), { message: "the run finishes" });
    const run = w.access.verifyRuns.latest()!;
    assertEquals([run.ok, run.byUser], [true, "auditor1"]);
    assertMatch((await c.page("/management")).html, /<span class="ok">Intact<\/span>: verified/);
    await assertEventually(
      async () => (await uiEvents(w.dir)).find((e) => e.command === "VERIFY"),
      { message: "the VERIFY event" },
    );
  });
});

Deno.test("Management: a damaged store is reported by the verification", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    await c.login("auditor1");
    const csrf = await c.csrf("/management");
    const [seg] = await segmentPaths(w.dir);
    await patchFile(seg!, 64 + 8 + 32 + 1 + 10, new TextEncoder().encode("X"));
    await c.post("/management/verify", { _csrf: csrf });
    await assertEventually(() => w.access.verifyRuns.latest());
    const run = w.access.verifyRuns.latest()!;
    assertEquals(run.ok, false);
    assertMatch(run.problem ?? "", /seg-0+\.vseg/);
    assertMatch((await c.page("/management")).html, /<span class="bad">Problem found<\/span>/);
  });
});

Deno.test("the evidence pack names sources, gaps, alerts with their review, and the checkpoint", async () => {
  await withWorld({}, async (w) => {
    await w.alerts.ack(1, "operator1", "known batch job");
    const c = new Client(w.app);
    await c.login("auditor1");
    const q = "from=2025-12-30T00:00:00Z&to=2026-01-02T00:00:00Z";
    const res = await c.request(`/management/evidence.json?${q}`);
    assertEquals(res.status, 200);
    const pack = await res.json();
    assertEquals(pack.period, {
      from: "2025-12-30T00:00:00.000000Z",
      to: "2026-01-02T00:00:00.000000Z",
    });
    assertEquals(pack.generated_by, "auditor1");
    const billing = pack.sources.find((s: { source: string }) => s.source === "billing");
    assertEquals(billing.events, 123);
    assertEquals(pack.gaps.map((g: { command: string }) => g.command), ["WAL_GAP"]);
    assertEquals(pack.alerts[0].reviewed_by, "operator1");
    assertEquals(pack.alerts[0].review_note, "known batch job");
    assertEquals(pack.checkpoint.signature_ok, true);
    assertStringIncludes(pack.appliance.public_key_pem, "BEGIN PUBLIC KEY");
    const page = await c.page(`/management/evidence?${q}`);
    assertMatch(page.html, /<td >operator1<\/td>|<td>operator1<\/td>/);
    assertStringIncludes(page.html, "WAL_GAP");
    const exports = (await uiEvents(w.dir)).filter((e) => e.command === "EXPORT");
    assertEquals(exports.length, 2);
    assertEquals(exports[0]!.object, "evidence pack");
  });
});

Deno.test("Administration: add, disable and reset users; the public key download is the PEM", async () => {
  await withWorld({
    config: { data_dir: "/x", sources: [{ name: "db", dsn: "postgres://v:hunter2@db/x" }] },
  }, async (w) => {
    const c = new Client(w.app);
    await c.login("admin1");
    let csrf = await c.csrf("/admin");
    const weak = await c.post("/admin/users", {
      _csrf: csrf,
      name: "zoe",
      role: "auditor",
      password: "short",
    });
    assertEquals(weak.status, 400);
    assertStringIncludes(await weak.text(), "shorter than 12");
    const pw = "plum orchard at dawn";
    assertEquals(
      (await c.post("/admin/users", { _csrf: csrf, name: "zoe", role: "auditor", password: pw }))
        .status,
      303,
    );
    const zoe = new Client(w.app);
    assertEquals((await zoe.login("zoe", pw)).status, 303);
    assertEquals((await c.post("/admin/users/zoe/disable", { _csrf: csrf })).status, 303);
    const r = await zoe.request("/management");
    assertEquals(r.status, 303, "the disabled user's session ended");
    await r.body?.cancel();
    assertEquals((await c.post("/admin/users/admin1/disable", { _csrf: csrf })).status, 400);
    await c.post("/admin/users/zoe/enable", { _csrf: csrf });
    assertEquals(
      (await c.post("/admin/users/zoe/password", {
        _csrf: csrf,
        password: "a brand new passphrase",
      })).status,
      303,
    );
    assertEquals((await new Client(w.app).login("zoe", pw)).status, 401);
    assertEquals((await new Client(w.app).login("zoe", "a brand new passphrase")).status, 303);

    assertEquals(
      (await c.post("/admin/users/zoe/role", { _csrf: csrf, role: "operator" })).status,
      303,
    );
    assertEquals(w.access.users.get("zoe")?.role, "operator");
    assertEquals(
      (await c.post("/admin/users/admin1/role", { _csrf: csrf, role: "auditor" })).status,
      400,
    );
    assertEquals(w.access.users.get("admin1")?.role, "admin", "the last admin keeps the role");
    const page = (await c.page("/admin")).html;
    assertStringIncludes(page, "postgres://v:***@db/x");
    assert(!page.includes("hunter2"), "a DSN's password is not shown");
    csrf = Client.csrfOf(page);
    const key = await c.request("/keys/signing.pub.pem");
    assertEquals(await key.text(), publicKeyPem(await readPublicKey(`${w.dir}/keys`)));
    const cmds = (await uiEvents(w.dir)).map((e) => e.command);
    for (
      const x of ["USER_ADD", "USER_DISABLE", "USER_ENABLE", "USER_ROLE", "USER_PASSWORD_RESET"]
    ) {
      assert(cmds.includes(x), x);
    }
  });
});

Deno.test("Management shows each export target's state, or that none is configured", async () => {
  const target = {
    name: "archive",
    type: "s3",
    location: "https://rgw.example:7480/vigil-audit",
    state: "failed",
    exportedEnd: 4711,
    lastRunAt: 1_767_225_000_000_000,
    lastSuccessAt: 1_767_224_000_000_000,
    nextRunAt: 1_767_226_000_000_000,
    lastError: "PUT <object> refused: 403 AccessDenied",
  };
  await withWorld({ exports: { status: () => ({ targets: [target] }) } }, async (w) => {
    const c = new Client(w.app);
    await c.login("auditor1");
    const { html } = await c.page("/management");
    assertMatch(html, /<table id="exports">.*archive.*class="bad">failed.*4,711/s);
    assertStringIncludes(html, "PUT &lt;object&gt; refused");
  });
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    await c.login("auditor1");
    assertStringIncludes((await c.page("/management")).html, "Export targets are not configured.");
  });
});
