import { CHECKPOINTS_FILE } from "../../../daemon/store/checkpoint.ts";
import { CHAIN_SIZE } from "../../../daemon/store/frame.ts";
import { loadOrCreateKey } from "../../../daemon/store/keys.ts";
import { Store } from "../../../daemon/store/store.ts";
import { type VerifyReport, verifyStore } from "../../../daemon/store/verify.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { type FramePlace, framesOf, rechain, rewriteBody } from "../../support/forge.ts";
import { copyDir, makeWritable, patchFile, testEvent, withTempDir } from "../../support/store.ts";

/** A closed store of 3+ segments, 20 events and position records, checkpointed on close. */
async function sealedStore(dir: string): Promise<void> {
  const store = await Store.open(dir, { checkpointIntervalMs: 0, maxSegmentBytes: 2500 });
  for (let i = 0; i < 20; i++) {
    await store.append({ source: "s", events: [testEvent(i)], position: `p${i}` });
    if (i === 9) await store.checkpoint();
  }
  await store.close();
}

/** Runs `tamper` on a copy of a sealed store and returns the verification of the copy. */
async function tampered(
  tamper: (dir: string, events: FramePlace[]) => Promise<void>,
): Promise<VerifyReport> {
  return await withTempDir(async (dir) => {
    await sealedStore(`${dir}/orig`);
    assert((await verifyStore(`${dir}/orig`)).ok, "the untouched store verifies");
    await copyDir(`${dir}/orig`, `${dir}/copy`);
    await makeWritable(`${dir}/copy`);
    const events = (await framesOf(`${dir}/copy`)).filter((f) => f.type === 0);
    await tamper(`${dir}/copy`, events);
    return await verifyStore(`${dir}/copy`);
  });
}

function name(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function assertCaughtAt(r: VerifyReport, f: FramePlace, reason: RegExp): void {
  assert(!r.ok, "tampering must be caught");
  assertEquals(r.problem!.place.segment, name(f.segment));
  assertEquals(r.problem!.place.offset, f.offset);
  assertMatch(r.problem!.reason, reason);
}

const REGIONS: [string, (f: FramePlace) => number, RegExp][] = [
  ["length field", (f) => f.offset + 1, /frame length|CRC|cut off/],
  ["CRC field", (f) => f.offset + 6, /CRC/],
  ["chain hash", (f) => f.payload + 5, /CRC/],
  ["type byte", (f) => f.payload + CHAIN_SIZE, /CRC/],
  ["event body", (f) => f.payload + f.length - 3, /CRC/],
];

for (const [region, at, reason] of REGIONS) {
  for (const which of [0, 7, 19]) {
    Deno.test(`verifyStore() names the record when a byte of its ${region} is flipped (event ${which})`, async () => {
      let target: FramePlace | undefined;
      const r = await tampered(async (_dir, events) => {
        target = events[which]!;
        const buf = await Deno.readFile(target.segment);
        await patchFile(target.segment, at(target), new Uint8Array([buf[at(target)]! ^ 0x40]));
      });
      // A flipped length may make the frame run past the end of the last segment: that is
      // caught as events removed from under a signed checkpoint, at the same record.
      if (which === 19 && region === "length field" && /removed/.test(r.problem?.reason ?? "")) {
        assertEquals(r.problem!.place.seq, 19);
        return;
      }
      assertCaughtAt(r, target!, reason);
      assertEquals(r.problem!.place.seq, which);
    });
  }
}

Deno.test("verifyStore() catches a chain hash rewritten with a matching CRC", async () => {
  let target: FramePlace | undefined;
  const r = await tampered(async (_dir, events) => {
    target = events[5]!;
    const buf = await Deno.readFile(target.segment);
    const body = new TextDecoder().decode(
      buf.subarray(target.payload + CHAIN_SIZE + 1, target.payload + target.length),
    );
    const chainFlip = buf.slice(target.payload, target.payload + CHAIN_SIZE);
    chainFlip[0]! ^= 1;
    await patchFile(target.segment, target.payload, chainFlip);
    await rewriteBody(target, body);
  });
  assertCaughtAt(r, target!, /chain hash mismatch/);
});

Deno.test("verifyStore() catches a deleted record", async () => {
  let target: FramePlace | undefined;
  const r = await tampered(async (_dir, events) => {
    target = events[12]!;
    const buf = await Deno.readFile(target.segment);
    await Deno.writeFile(
      target.segment,
      new Uint8Array([
        ...buf.subarray(0, target.offset),
        ...buf.subarray(target.payload + target.length),
      ]),
    );
  });
  // The position record after it still carries the deleted event's chain head.
  assertCaughtAt(r, target!, /seq 13, expected 12|chain head in a position record/);
});

Deno.test("verifyStore() catches two swapped records", async () => {
  let target: FramePlace | undefined;
  const r = await tampered(async (dir, _events) => {
    const all = await framesOf(dir);
    // Two events of one segment with only position and commit records between them.
    const next = (k: number): number => all.findIndex((g, j) => j > k && g.type === 0);
    const i = all.findIndex((f, k) =>
      f.type === 0 && k > 6 && next(k) > k && all[next(k)]!.segment === f.segment
    );
    const [a, b] = [all[i]!, all[next(i)]!];
    target = a;
    const buf = await Deno.readFile(a.segment);
    const fa = buf.slice(a.offset, a.payload + a.length);
    const mid = buf.slice(a.payload + a.length, b.offset);
    const fb = buf.slice(b.offset, b.payload + b.length);
    await Deno.writeFile(
      a.segment,
      new Uint8Array([
        ...buf.subarray(0, a.offset),
        ...fb,
        ...mid,
        ...fa,
        ...buf.subarray(b.payload + b.length),
      ]),
    );
  });
  assertCaughtAt(r, target!, /has seq \d+, expected \d+/);
});

Deno.test("verifyStore() catches a segment forged and re-chained without the key", async () => {
  const r = await tampered(async (dir, events) => {
    const f = events[3]!;
    const buf = await Deno.readFile(f.segment);
    const body = new TextDecoder().decode(
      buf.subarray(f.payload + CHAIN_SIZE + 1, f.payload + f.length),
    );
    await rewriteBody(f, body.replace("SELECT 3", "SELECT 4"));
    await rechain(dir);
  });
  assert(!r.ok);
  assertMatch(r.problem!.reason, /checkpoint #1 \(size 10\) does not match/);
  assertEquals(r.problem!.place.seq, 9);
});

Deno.test("verifyStore() catches truncation after a signed checkpoint", async () => {
  const r = await tampered(async (_dir, events) => {
    const f = events[15]!;
    const buf = await Deno.readFile(f.segment);
    await Deno.writeFile(f.segment, buf.subarray(0, f.offset));
    // What came after is gone too: the cut segment is the last one.
    for (const later of new Set(events.slice(16).map((e) => e.segment))) {
      if (later !== f.segment) await Deno.remove(later);
    }
  });
  assert(!r.ok);
  assertMatch(r.problem!.reason, /log ends at seq 15 but a signed checkpoint covers 20/);
});

Deno.test("verifyStore() with a kept checkpoint catches a log rewritten and re-signed by a new key", async () => {
  await withTempDir(async (dir) => {
    await sealedStore(`${dir}/s`);
    const kept = (await Deno.readTextFile(`${dir}/s/${CHECKPOINTS_FILE}`)).trim().split("\n").map((
      l,
    ) => JSON.parse(l));
    const origKey = await loadOrCreateKey(`${dir}/s/keys`);
    // The attacker replaces the key, forges an event, re-chains and re-signs everything.
    await makeWritable(`${dir}/s`);
    await Deno.remove(`${dir}/s/keys`, { recursive: true });
    await Deno.remove(`${dir}/s/${CHECKPOINTS_FILE}`);
    await Deno.remove(`${dir}/s/merkle`, { recursive: true });
    const events = (await framesOf(`${dir}/s`)).filter((f) => f.type === 0);
    const buf = await Deno.readFile(events[2]!.segment);
    const body = new TextDecoder().decode(
      buf.subarray(events[2]!.payload + CHAIN_SIZE + 1, events[2]!.payload + events[2]!.length),
    );
    await rewriteBody(events[2]!, body.replace("SELECT 2", "SELECT 9"));
    await rechain(`${dir}/s`);
    const store = await Store.open(`${dir}/s`, { checkpointIntervalMs: 0 });
    await store.checkpoint(true);
    await store.close();
    assert((await verifyStore(`${dir}/s`)).ok, "without outside knowledge the forgery passes");
    const withKey = await verifyStore(`${dir}/s`, { publicKey: origKey.publicRaw });
    assert(!withKey.ok);
    assertMatch(withKey.problem!.reason, /no valid signature/);
    const fresh = await loadOrCreateKey(`${dir}/s/keys`);
    const withKept = await verifyStore(`${dir}/s`, { publicKey: fresh.publicRaw, trusted: kept });
    assert(!withKept.ok);
  });
});

Deno.test("verifyStore() on a store large enough for workers finds the same first problem", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, { checkpointIntervalMs: 0, maxSegmentBytes: 6 << 20 });
    for (let b = 0; b < 40; b++) {
      const events = Array.from({ length: 1000 }, (_, i) => testEvent(b * 1000 + i));
      await store.append({ source: "s", events, position: `p${b}` });
      if (b === 17) await store.checkpoint();
    }
    await store.close();
    const good = await verifyStore(dir);
    assert(good.ok, good.problem?.text);
    assertEquals([good.events, good.checkpoints], [40000, 2]);
    assert(good.segments >= 2, `expected several segments, got ${good.segments}`);
    const events = (await framesOf(dir)).filter((f) => f.type === 0);
    for (const which of [1, 9_999, 21_337, 39_999]) {
      const f = events[which]!;
      const at = f.payload + f.length - 5;
      const orig = (await Deno.readFile(f.segment))[at]!;
      await patchFile(f.segment, at, new Uint8Array([orig ^ 0x20]));
      const r = await verifyStore(dir);
      assertCaughtAt(r, f, /CRC/);
      assertEquals(r.problem!.place.seq, which);
      await patchFile(f.segment, at, new Uint8Array([orig]));
    }
    assert((await verifyStore(dir)).ok);
  });
});

Deno.test("verifyStore() fails when the signed checkpoints are deleted or emptied", async () => {
  for (const how of ["deleted", "emptied", "cut to the first"] as const) {
    const r = await tampered(async (dir) => {
      const path = `${dir}/${CHECKPOINTS_FILE}`;
      if (how === "deleted") await Deno.remove(path);
      else if (how === "emptied") await Deno.writeFile(path, new Uint8Array(0));
      else {
        const first = (await Deno.readTextFile(path)).split("\n")[0]!;
        await Deno.writeTextFile(path, first + "\n");
      }
    });
    assert(!r.ok, `checkpoints ${how}: must be caught`);
    assertMatch(r.problem!.reason, /signed checkpoints are gone: .* checkpoint of 20 events/);
  }
});

Deno.test("verifyStore() takes a checkpoint signed while it read the log for the one the log claims", async () => {
  await withTempDir(async (dir) => {
    await sealedStore(dir);
    await makeWritable(dir);
    const path = `${dir}/${CHECKPOINTS_FILE}`;
    const whole = await Deno.readTextFile(path);
    const [first, second] = whole.split("\n") as [string, string];
    // What a writer does during a long verification: it adds a checkpoint after the file was
    // read, then commits that claim it before the log's end is read.
    const addedMeanwhile = async (text: string) => {
      await Deno.writeTextFile(path, first + "\n");
      return await verifyStore(dir, { afterCheckpointsRead: () => Deno.writeTextFile(path, text) });
    };
    const r = await addedMeanwhile(whole);
    assert(r.ok, r.problem?.text);
    assertEquals(r.checkpoints, 1);
    // One added with a signature that none of the log's keys made is not taken for it.
    const c = JSON.parse(second);
    const sig = `${c.sig.startsWith("A") ? "B" : "A"}${c.sig.slice(1)}`;
    const forged = await addedMeanwhile(`${first}\n${JSON.stringify({ ...c, sig })}\n`);
    assert(!forged.ok, "a forged checkpoint must not meet the claim");
    assertMatch(forged.problem!.reason, /changed while the log was verified: .*no valid signature/);
    // Nor a file whose checkpoints read first are gone from it.
    const cut = await addedMeanwhile(second + "\n");
    assert(!cut.ok, "a checkpoint removed meanwhile must be caught");
    assertMatch(cut.problem!.reason, /checkpoint #1 \(size 10\) is no longer there/);
  });
});

Deno.test("verifyStore() checks the Merkle node files: a wrong block root or inner node is named", async () => {
  await withTempDir(async (dir) => {
    // 800 events: nodes 0..2 of every stored level (6, 7, 8) exist.
    const store = await Store.open(`${dir}/orig`, { checkpointIntervalMs: 0 });
    for (let i = 0; i < 800; i += 100) {
      const events = Array.from({ length: 100 }, (_, k) => testEvent(i + k));
      await store.append({ source: "s", events });
    }
    await store.close();
    assert((await verifyStore(`${dir}/orig`)).ok, "the untouched store verifies");
    for (const level of [6, 7, 8]) {
      const copy = `${dir}/copy-${level}`;
      await copyDir(`${dir}/orig`, copy);
      await makeWritable(copy);
      const path = `${copy}/merkle/level-0${level}.bin`;
      const bytes = await Deno.readFile(path);
      const at = 32 * 2 + 5; // node 2
      assert(bytes.length > at, `level ${level} has node 2`);
      await patchFile(path, at, new Uint8Array([bytes[at]! ^ 0x01]));
      const r = await verifyStore(copy);
      assert(!r.ok, `level ${level}: a flipped node must be caught`);
      assertMatch(r.problem!.reason, new RegExp(`level-0${level}\\.bin: node 2 is wrong`));
    }
  });
});

Deno.test("verifyStore() holding one segment at a time (readAhead 0) finds what the default finds", async () => {
  await withTempDir(async (dir) => {
    await sealedStore(`${dir}/orig`);
    const whole = await verifyStore(`${dir}/orig`, { workers: 0 });
    const one = await verifyStore(`${dir}/orig`, { workers: 0, readAhead: 0 });
    assert(whole.ok && one.ok, "the untouched store verifies both ways");
    assert(one.segments >= 3, `several segments (${one.segments})`);
    assertEquals([one.events, one.segments, one.checkpoints], [
      whole.events,
      whole.segments,
      whole.checkpoints,
    ]);
    // A record damaged in a later segment is found, and named, the same way.
    await copyDir(`${dir}/orig`, `${dir}/copy`);
    await makeWritable(`${dir}/copy`);
    const target = (await framesOf(`${dir}/copy`)).filter((f) => f.type === 0)[15]!;
    const buf = await Deno.readFile(target.segment);
    const at = target.payload + target.length - 3;
    await patchFile(target.segment, at, new Uint8Array([buf[at]! ^ 0x40]));
    const a = await verifyStore(`${dir}/copy`, { workers: 0 });
    const b = await verifyStore(`${dir}/copy`, { workers: 0, readAhead: 0 });
    assertCaughtAt(b, target, /CRC/);
    assertEquals(b.problem, a.problem);
  });
});
