import {
  CHECKPOINTS_FILE,
  readCheckpoints,
  signCheckpoint,
} from "../../../daemon/store/checkpoint.ts";
import { HANDOVERS_FILE, readHandovers } from "../../../daemon/store/key_handover.ts";
import {
  generateKey,
  keyFromPkcs8,
  keyIdOf,
  MissingKeyError,
  parsePublicKey,
  PENDING_KEY_FILE,
  readPublicKey,
  unhex,
} from "../../../daemon/store/keys.ts";
import { Exporter } from "../../../daemon/export/exporter.ts";
import { applyRetention } from "../../../daemon/export/retention.ts";
import { Store } from "../../../daemon/store/store.ts";
import { verifyStore } from "../../../daemon/store/verify.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../support/assert.ts";
import { framesOf, rewriteBody } from "../../support/forge.ts";
import { makeWritable, testEvent, withTempDir } from "../../support/store.ts";

const OPTS = { checkpointIntervalMs: 0, maxSegmentBytes: 4000 };

/** A store of 30 events with `rotations` rotations among them; returns each key's public half. */
async function rotatedStore(
  dir: string,
  rotations: number,
  privates: Uint8Array[] = [],
): Promise<Uint8Array[]> {
  const keys = [await readKeyAfterOpen(dir)];
  const store = await Store.open(dir, OPTS);
  try {
    for (let i = 0; i < 30; i++) {
      await store.append({ source: "s", events: [testEvent(i)], position: `p${i}` });
      if (i % 10 === 4) await store.checkpoint();
      if (i % 10 === 7 && keys.length <= rotations) {
        privates.push(await Deno.readFile(`${dir}/keys/signing.key`));
        const r = await store.rotateKey({ by: "ada", reason: "yearly" });
        assertEquals(r.oldKeyId, keyIdOf(keys[keys.length - 1]!));
        keys.push(await readPublicKey(`${dir}/keys`));
        assertEquals(r.newKeyId, keyIdOf(keys[keys.length - 1]!));
        assertEquals(store.keyId, r.newKeyId);
      }
    }
  } finally {
    await store.close();
  }
  return keys;
}

async function readKeyAfterOpen(dir: string): Promise<Uint8Array> {
  const s = await Store.open(dir, OPTS);
  await s.close();
  return await readPublicKey(`${dir}/keys`);
}

for (const rotations of [1, 2]) {
  Deno.test(`verifyStore() follows ${rotations} key rotation(s) from the original public key`, async () => {
    await withTempDir(async (dir) => {
      const keys = await rotatedStore(dir, rotations);
      assertEquals(keys.length, rotations + 1);
      for (
        const [name, publicKey] of [["original", keys[0]], ["latest", keys[rotations]]] as const
      ) {
        const r = await verifyStore(dir, { publicKey: publicKey! });
        assert(r.ok, `${name}: ${r.problem?.text}`);
        assertEquals(r.keys.map((k) => k.keyId), keys.map(keyIdOf));
        assertEquals(r.keyLosses, []);
      }
      const own = await verifyStore(dir);
      assert(own.ok, own.problem?.text);
      assertEquals(own.keyId, keyIdOf(keys[rotations]!));
      // The rotation is an event in the chain, naming both keys.
      const events = [];
      for await (const r of readLog(dir)) {
        if (r.event.command === "KEY_ROTATE") events.push(r.event);
      }
      assertEquals(events.length, rotations);
      assertEquals(events[0]!.context!.old_key_id, keyIdOf(keys[0]!));
      assertEquals(events[0]!.context!.new_key_id, keyIdOf(keys[1]!));
      assertEquals(events[0]!.app_user, "ada");
      for (const k of keys) {
        assertEquals(
          keyIdOf(parsePublicKey(await Deno.readTextFile(`${dir}/keys/history/${keyIdOf(k)}.pub`))),
          keyIdOf(k),
        );
      }
    });
  });
}

Deno.test("verifyStore() names the checkpoint signed by a key no rotation announced", async () => {
  await withTempDir(async (dir) => {
    const keys = await rotatedStore(dir, 1);
    // Someone with the box swaps in a key of their own and signs the log with it.
    const intruder = await generateKey();
    const { checkpoints } = await readCheckpoints(`${dir}/${CHECKPOINTS_FILE}`);
    const last = checkpoints[checkpoints.length - 1]!;
    const forged = await signCheckpoint(intruder.key, {
      size: last.size,
      root: unhex(last.root),
      chain: unhex(last.chain),
      ts: last.ts + 1,
    });
    await Deno.writeTextFile(`${dir}/${CHECKPOINTS_FILE}`, JSON.stringify(forged) + "\n", {
      append: true,
    });
    for (const publicKey of [keys[0]!, keys[1]!]) {
      const r = await verifyStore(dir, { publicKey });
      assert(!r.ok);
      assertMatch(
        r.problem!.reason,
        new RegExp(
          `checkpoint #${checkpoints.length + 1} \\(size ${last.size}\\) .*signed by key ` +
            `${intruder.key.keyId}, which no key rotation announced`,
        ),
      );
    }
  });
});

Deno.test("verifyStore() refuses a checkpoint signed by the old key after its rotation", async () => {
  await withTempDir(async (dir) => {
    const privates: Uint8Array[] = [];
    const keys = await rotatedStore(dir, 1, privates);
    // Someone who kept the old private key signs the log after the handover with it.
    const old = await keyFromPkcs8(privates[0]!);
    assertEquals(old.keyId, keyIdOf(keys[0]!));
    const { checkpoints } = await readCheckpoints(`${dir}/${CHECKPOINTS_FILE}`);
    const last = checkpoints[checkpoints.length - 1]!;
    const late = await signCheckpoint(old, {
      size: last.size,
      root: unhex(last.root),
      chain: unhex(last.chain),
      ts: last.ts + 1,
    });
    await Deno.writeTextFile(`${dir}/${CHECKPOINTS_FILE}`, JSON.stringify(late) + "\n", {
      append: true,
    });
    const r = await verifyStore(dir, { publicKey: keys[0]! });
    assert(!r.ok);
    assertMatch(
      r.problem!.reason,
      new RegExp(
        `checkpoint #${checkpoints.length + 1} \\(size ${last.size}\\) is signed by key ` +
          `${old.keyId} after it was rotated out`,
      ),
    );
  });
});

Deno.test("verifyStore() catches a rotation event altered in the log or in the handover record", async () => {
  await withTempDir(async (dir) => {
    const keys = await rotatedStore(dir, 1);
    const handovers = await readHandovers(`${dir}/keys`);
    const seq = handovers[0]!.seq;
    const path = `${dir}/keys/${HANDOVERS_FILE}`;
    const orig = await Deno.readTextFile(path);

    // In the record: the event now names another new key.
    const other = await generateKey();
    const ev = JSON.parse(handovers[0]!.event);
    ev.context.new_key_id = other.key.keyId;
    ev.context.new_public_key = btoa(String.fromCharCode(...other.key.publicRaw));
    await Deno.writeTextFile(
      path,
      JSON.stringify({ ...handovers[0], event: JSON.stringify(ev) }) + "\n",
    );
    let r = await verifyStore(dir, { publicKey: keys[0]! });
    assert(!r.ok);
    assertMatch(
      r.problem!.reason,
      new RegExp(`key handover #1 \\(seq ${seq}\\): the event is not in the tree`),
    );

    // A handover whose checkpoint the new key signed claims a rotation the old key never made.
    const forgedCp = await signCheckpoint(other.key, {
      size: handovers[0]!.checkpoint.size,
      root: unhex(handovers[0]!.checkpoint.root),
      chain: unhex(handovers[0]!.checkpoint.chain),
      ts: handovers[0]!.checkpoint.ts,
    });
    await Deno.writeTextFile(
      path,
      JSON.stringify({ ...handovers[0], checkpoint: forgedCp }) + "\n",
    );
    r = await verifyStore(dir, { publicKey: keys[0]! });
    assert(!r.ok);
    assertMatch(r.problem!.reason, /key handover #1 .*no valid signature by the old key/);

    // Without the record the new key is unannounced.
    await Deno.remove(path);
    r = await verifyStore(dir, { publicKey: keys[0]! });
    assert(!r.ok);
    assertMatch(r.problem!.reason, /which no key rotation announced/);

    // In the log: the event's bytes changed.
    await Deno.writeTextFile(path, orig);
    assert((await verifyStore(dir, { publicKey: keys[0]! })).ok);
    await makeWritable(dir);
    const frame = (await framesOf(dir)).filter((f) => f.type === 0)[seq]!;
    await rewriteBody(frame, handovers[0]!.event.replace('"yearly"', '"weekly"'));
    r = await verifyStore(dir, { publicKey: keys[0]! });
    assert(!r.ok);
    assertEquals(r.problem!.place.seq, seq);
  });
});

Deno.test("Store.open() refuses a missing signing key once checkpoints exist; --recover declares the loss", async () => {
  await withTempDir(async (dir) => {
    const keys = await rotatedStore(dir, 1);
    await Deno.remove(`${dir}/keys/signing.key`);
    const e = await assertRejects(() => Store.open(dir, OPTS), MissingKeyError);
    assertMatch(e.message, /keys\/signing\.key is missing.*vigil key rotate --recover/);
    const store = await Store.open(dir, {
      ...OPTS,
      recoverLostKey: { by: "root", reason: "disk lost" },
    });
    const loss = store.lastRotation!;
    assert(loss.declaredLoss);
    assertEquals(loss.oldKeyId, keyIdOf(keys[1]!));
    await store.append({ source: "s", events: [testEvent(99)] });
    await store.close();
    for (const publicKey of [keys[0]!, undefined]) {
      const r = await verifyStore(dir, publicKey ? { publicKey } : {});
      assert(r.ok, r.problem?.text);
      assertEquals(r.keyLosses.map((l) => [l.seq, l.oldKeyId, l.newKeyId]), [[
        loss.seq,
        loss.oldKeyId,
        loss.newKeyId,
      ]]);
      assertEquals(r.keys.length, 3);
    }
    // Recovering again refuses: the key is there.
    await assertRejects(() => Store.open(dir, { ...OPTS, recoverLostKey: {} }), {
      message: /rotate it/,
    });
  });
});

Deno.test("Store.open() refuses a signing key that no rotation introduced", async () => {
  await withTempDir(async (dir) => {
    await rotatedStore(dir, 1);
    const other = await generateKey();
    await Deno.writeFile(`${dir}/keys/signing.key`, other.pkcs8);
    const e = await assertRejects(() => Store.open(dir, OPTS), MissingKeyError);
    assertMatch(e.message, new RegExp(`is key ${other.key.keyId}, but the log is signed by key`));
  });
});

Deno.test("Store.open() finishes a rotation recorded before a crash and drops one that was not", async () => {
  await withTempDir(async (dir) => {
    const keys = await rotatedStore(dir, 1);
    // Crash after the handover was recorded, before pending.key became signing.key.
    const newKey = await Deno.readFile(`${dir}/keys/signing.key`);
    await Deno.writeFile(`${dir}/keys/${PENDING_KEY_FILE}`, newKey, { mode: 0o600 });
    const old = await generateKey(); // stands for the old key still in place
    await Deno.writeFile(`${dir}/keys/signing.key`, old.pkcs8);
    let store = await Store.open(dir, OPTS);
    assertEquals(store.keyId, keyIdOf(keys[1]!));
    await store.close();
    // A pending key no handover names is discarded.
    const stray = await generateKey();
    await Deno.writeFile(`${dir}/keys/${PENDING_KEY_FILE}`, stray.pkcs8, { mode: 0o600 });
    store = await Store.open(dir, OPTS);
    assertEquals(store.keyId, keyIdOf(keys[1]!));
    await store.close();
    await assertRejects(() => Deno.stat(`${dir}/keys/${PENDING_KEY_FILE}`), Deno.errors.NotFound);
    assert((await verifyStore(dir, { publicKey: keys[0]! })).ok);
  });
});

Deno.test("verifyStore() follows a rotation whose event retention has deleted with its segment", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const store = await Store.open(data, { ...OPTS, hashWorker: false, maxSegmentBytes: 4096 });
    const orig = await readPublicKey(`${data}/keys`);
    for (let i = 0; i < 200; i++) {
      await store.append({ source: "test", events: [testEvent(i)] });
      if (i === 10) await store.rotateKey({ by: "ada" });
    }
    await store.close();
    const target = { name: "a", type: "dir" as const, path: `${dir}/a`, intervalMs: 60_000 };
    await new Exporter(data, [target]).runNow();
    const r = await applyRetention(data, { targets: ["a"], localRetentionMs: 0 });
    const seq = (await readHandovers(`${data}/keys`))[0]!.seq;
    assert(r.deleted.length > 0, r.reason);
    const rest = [];
    for await (const x of readLog(data)) rest.push(x.seq);
    assert(rest[0]! > seq, `the rotation event (seq ${seq}) is gone from the log`);
    const v = await verifyStore(data, { publicKey: orig });
    assert(v.ok, v.problem?.text);
    assertEquals(v.keys.length, 2);
  });
});
