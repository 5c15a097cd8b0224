/** Administration → signing key: rotation through the daemon's store, and the key history. */

import { readLog } from "../../daemon/store/log_reader.ts";
import { keyIdOf, parsePublicKey, publicKeyPem, readPublicKey } from "../../daemon/store/keys.ts";
import { verifyStore } from "../../daemon/store/verify.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { Client } from "./_client.ts";
import { uiEvents, withWorld } from "./_harness.ts";

Deno.test("Administration: an admin rotates the signing key by the form; the old key stays downloadable", async () => {
  await withWorld({}, async (w) => {
    const oldPub = await readPublicKey(`${w.dir}/keys`);
    const oldId = keyIdOf(oldPub);
    const c = new Client(w.app);
    await c.login("admin1");
    let page = (await c.page("/admin")).html;
    assertStringIncludes(page, `id="rotate-key"`);
    assertMatch(page, new RegExp(`<code>${oldId}</code></td><td>current</td><td>first key`));
    const csrf = Client.csrfOf(page);

    // Without the CSRF token, and without the confirmation, nothing happens.
    assertEquals((await c.post("/admin/keys/rotate", { confirm: oldId })).status, 403);
    const unconfirmed = await c.post("/admin/keys/rotate", { _csrf: csrf, confirm: "yes" });
    assertEquals(unconfirmed.status, 400);
    assertStringIncludes(await unconfirmed.text(), `type the current key id ${oldId}`);
    assertEquals(w.store.keyId, oldId);

    const done = await c.post("/admin/keys/rotate", {
      _csrf: csrf,
      confirm: oldId,
      reason: "yearly <rotation>",
    });
    assertEquals(done.status, 303);
    assertEquals(done.headers.get("Location"), "/admin?done=key-rotated");
    const newId = w.store.keyId;
    assert(newId !== oldId, "the store signs with a new key");
    page = (await c.page("/admin?done=key-rotated")).html;
    assertStringIncludes(page, "Signing key rotated");
    assertStringIncludes(page, `<code id="key-id">${newId}</code>`);
    assertMatch(page, new RegExp(`<code>${oldId}</code></td><td>retired</td>`));
    assertMatch(
      page,
      new RegExp(
        `<code>${newId}</code></td><td>current</td><td>rotation at seq \\d+, .* by admin1`,
      ),
    );

    // Every key's public half downloads, for every role.
    for (const who of ["admin1", "auditor1", "operator1"]) {
      const u = new Client(w.app);
      await u.login(who);
      const old = await u.request(`/keys/history/${oldId}.pub.pem`);
      assertEquals(old.status, 200, who);
      assertEquals(await old.text(), publicKeyPem(oldPub));
      const cur = await u.request("/keys/signing.pub.pem");
      assertEquals(keyIdOf(parsePublicKey(await cur.text())), newId);
    }
    assertEquals((await c.request("/keys/history/0000000000000000.pub.pem")).status, 404);
    assertEquals((await c.request("/keys/history/..%2Fsigning.key")).status, 404);

    // Recorded twice: the user's action, and the handover in the chain.
    const ui = (await uiEvents(w.dir)).filter((e) => e.command === "KEY_ROTATE");
    assertEquals(ui.length, 1);
    assertEquals([ui[0]!.role, ui[0]!.object], ["admin1", `signing key ${oldId}`]);
    let handover;
    for await (const r of readLog(w.dir)) {
      if (r.event.source === "vigil" && r.event.command === "KEY_ROTATE") handover = r.event;
    }
    assertEquals(handover?.context?.old_key_id, oldId);
    assertEquals(handover?.context?.new_key_id, newId);
    assertEquals(handover?.context?.reason, "yearly <rotation>");
    assertEquals(handover?.app_user, "admin1");
    const r = await verifyStore(w.dir, { publicKey: oldPub });
    assert(r.ok, r.problem?.text);
  });
});

Deno.test("Administration: auditors and operators cannot rotate the signing key", async () => {
  await withWorld({}, async (w) => {
    const oldId = w.store.keyId;
    for (const who of ["auditor1", "operator1"]) {
      const c = new Client(w.app);
      await c.login(who);
      const csrf = await c.csrf("/");
      const res = await c.post("/admin/keys/rotate", { _csrf: csrf, confirm: oldId });
      assertEquals(res.status, 403, who);
    }
    assertEquals(w.store.keyId, oldId);
    assertEquals((await uiEvents(w.dir)).filter((e) => e.command === "KEY_ROTATE"), []);
  });
});
