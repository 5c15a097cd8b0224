/** Administration → signing key: rotation through the daemon's store, and the key history. */

import type { Checkpoint } from "../../daemon/store/checkpoint.ts";
import { resolveKeyChain } from "../../daemon/store/key_chain.ts";
import type { Handover } from "../../daemon/store/key_handover.ts";
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

    // Recorded twice: the user's action, and the handover in the chain; the unconfirmed try
    // before it as refused.
    const ui = (await uiEvents(w.dir)).filter((e) => e.command === "KEY_ROTATE");
    assertEquals(ui.length, 2);
    assertMatch(ui[0]!.error ?? "", /^refused: the current key id was not typed/);
    assertEquals([ui[1]!.role, ui[1]!.object, ui[1]!.error], [
      "admin1",
      `signing key ${oldId}`,
      undefined,
    ]);
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

Deno.test("after a rotation an event's proof.json leads a verifier holding the old key to the signer", async () => {
  await withWorld({}, async (w) => {
    const oldPub = await readPublicKey(`${w.dir}/keys`);
    const c = new Client(w.app);
    await c.login("admin1");
    const before = await (await c.request("/events/3/proof.json")).json();
    assertEquals(before.key_handovers, []);

    const csrf = Client.csrfOf((await c.page("/admin")).html);
    const rotated = await c.post("/admin/keys/rotate", { _csrf: csrf, confirm: keyIdOf(oldPub) });
    assertEquals(rotated.status, 303);
    await rotated.body?.cancel();
    const proof = await (await c.request("/events/3/proof.json")).json();
    assertEquals(proof.checkpoint.key_id, w.store.keyId, "signed by the new key");
    assertEquals(proof.key_handovers.length, 1);
    const own = { c: proof.checkpoint as Checkpoint, label: "the proof's checkpoint" };
    const chain = await resolveKeyChain({
      anchor: oldPub,
      handovers: proof.key_handovers as Handover[],
      checkpoints: [own],
    });
    assertEquals(chain.problem, undefined);
    assertEquals(chain.keys.map((k) => k.keyId), [keyIdOf(oldPub), w.store.keyId]);

    // A handover altered on the way (its event names another new key) leads nowhere.
    const forged = structuredClone(proof.key_handovers) as Handover[];
    forged[0]!.event = forged[0]!.event.replace(w.store.keyId, "0".repeat(w.store.keyId.length));
    const bad = await resolveKeyChain({ anchor: oldPub, handovers: forged, checkpoints: [own] });
    assert(bad.problem !== undefined, "a forged handover is refused");
  });
});
