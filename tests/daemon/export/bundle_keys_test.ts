import { writeBundle } from "../../../daemon/export/bundle.ts";
import { verifyBundle } from "../../../daemon/export/bundle_verify.ts";
import { encodeManifest, parseManifest, signManifest } from "../../../daemon/export/manifest.ts";
import { keyIdOf, loadKey, readPublicKey } from "../../../daemon/store/keys.ts";
import { Store } from "../../../daemon/store/store.ts";
import { storePaths } from "../../../daemon/store/store_open.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";
import { bundleEvent } from "./_bundle_store.ts";

/**
 * 60 events with checkpoints at 15 and 45 and a key rotation after event 30 (its event is seq
 * 30); returns the original and the new public key.
 */
async function rotatedStore(data: string): Promise<Uint8Array[]> {
  const store = await Store.open(data, { checkpointIntervalMs: 0, hashWorker: false });
  const keys = [await readPublicKey(storePaths(data).keys)];
  try {
    for (let i = 0; i < 59; i++) {
      await store.append({ source: bundleEvent(i).source, events: [bundleEvent(i)] });
      if (i === 14 || i === 44) await store.checkpoint();
      if (i === 29) {
        await store.rotateKey({ by: "ada" });
        keys.push(await readPublicKey(storePaths(data).keys));
      }
    }
  } finally {
    await store.close();
  }
  return keys;
}

const RANGES: [string, { seqs?: { from: number; to: number } }][] = [
  ["the whole log", {}],
  ["a range before the rotation", { seqs: { from: 2, to: 14 } }],
  ["a range after the rotation", { seqs: { from: 40, to: 58 } }],
  ["a range across the rotation", { seqs: { from: 20, to: 50 } }],
];

for (const [what, opts] of RANGES) {
  Deno.test(`verifyBundle() verifies ${what} of a store whose key was rotated, offline, from the original key`, async () => {
    await withTempDir(async (dir) => {
      const [orig, next] = await rotatedStore(`${dir}/data`);
      const s = await writeBundle(`${dir}/data`, `${dir}/out`, opts);
      assertEquals(s.keyId, keyIdOf(next!));
      const m = parseManifest(await Deno.readFile(`${dir}/out/manifest.json`));
      assertEquals(m.key_handovers!.length, 1);
      assertEquals(m.key_handovers![0]!.seq, 30);
      await Deno.remove(`${dir}/data`, { recursive: true }); // offline: nothing of the appliance
      for (const publicKey of [orig, next, undefined]) {
        const r = await verifyBundle(`${dir}/out`, publicKey ? { publicKey } : {});
        assert(r.ok, r.problems.join("\n"));
      }
    });
  });
}

Deno.test("verifyBundle() catches an altered key handover even when the manifest is re-signed", async () => {
  await withTempDir(async (dir) => {
    const [orig] = await rotatedStore(`${dir}/data`);
    await writeBundle(`${dir}/data`, `${dir}/out`, {});
    const m = parseManifest(await Deno.readFile(`${dir}/out/manifest.json`));
    const h = m.key_handovers![0]!;
    h.event = h.event.replace('"app_user":"ada"', '"app_user":"eve"');
    const bytes = encodeManifest(m);
    const insider = await loadKey(storePaths(`${dir}/data`).keys);
    await Deno.writeFile(`${dir}/out/manifest.json`, bytes);
    await Deno.writeFile(`${dir}/out/manifest.sig`, await signManifest(bytes, insider.privateKey));
    for (const publicKey of [orig!, undefined]) {
      const r = await verifyBundle(`${dir}/out`, publicKey ? { publicKey } : {});
      assert(!r.ok);
      assertMatch(r.problems[0]!, /key handover #1 \(seq 30\): the event is not in the tree/);
    }
  });
});

Deno.test("verifyBundle() refuses a bundle whose key handovers were dropped", async () => {
  await withTempDir(async (dir) => {
    const [orig] = await rotatedStore(`${dir}/data`);
    await writeBundle(`${dir}/data`, `${dir}/out`, { seqs: { from: 20, to: 50 } });
    const m = parseManifest(await Deno.readFile(`${dir}/out/manifest.json`));
    delete m.key_handovers;
    const bytes = encodeManifest(m);
    const insider = await loadKey(storePaths(`${dir}/data`).keys);
    await Deno.writeFile(`${dir}/out/manifest.json`, bytes);
    await Deno.writeFile(`${dir}/out/manifest.sig`, await signManifest(bytes, insider.privateKey));
    const r = await verifyBundle(`${dir}/out`, { publicKey: orig! });
    assert(!r.ok);
    assertMatch(r.problems[0]!, /public_key\.pem holds key [0-9a-f]+, not the trusted key/);
    // Without the trusted key, the older checkpoints' key is unannounced.
    const own = await verifyBundle(`${dir}/out`);
    assert(!own.ok);
    assertMatch(own.problems[0]!, /which no key rotation announced/);
  });
});
