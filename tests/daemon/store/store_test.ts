import { readCheckpoints, verifyCheckpoint } from "../../../daemon/store/checkpoint.ts";
import { StoreDamageError, StoreLockedError } from "../../../daemon/store/errors.ts";
import { FRAME_EVENT, HEADER_SIZE, scanFrames } from "../../../daemon/store/frame.ts";
import { readPublicKey } from "../../../daemon/store/keys.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { storePaths } from "../../../daemon/store/store_open.ts";
import { verifyStore } from "../../../daemon/store/verify.ts";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { segmentPaths, testEvent, withTempDir } from "../../support/store.ts";

const NO_TIMER = { checkpointIntervalMs: 0 };

Deno.test("Store.append() assigns gapless seqs and reopen finds size, chain and positions", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, NO_TIMER);
    const a = await store.append({
      source: "s1",
      events: [testEvent(0), testEvent(1)],
      position: "p2",
    });
    const b = await store.append({ source: "s2", events: [testEvent(2)], position: "q1" });
    const c = await store.append({ source: "s1", events: [], position: "p3" });
    assertEquals([a.firstSeq, a.count, b.firstSeq, b.count, c.firstSeq, c.count], [
      0,
      2,
      2,
      1,
      3,
      0,
    ]);
    const root = await store.root();
    await store.close();

    const again = await Store.open(dir, NO_TIMER);
    assertEquals(again.size, 3);
    assertEquals(again.position("s1"), "p3");
    assertEquals(again.position("s2"), "q1");
    assertEquals(again.position("nope"), undefined);
    assertEquals(await again.root(), root);
    const d = await again.append({ source: "s2", events: [testEvent(3)] });
    assertEquals(d.firstSeq, 3);
    await again.close();
    const seqs: number[] = [];
    for await (const r of readLog(dir)) seqs.push(r.seq);
    assertEquals(seqs, [0, 1, 2, 3]);
  });
});

Deno.test("Store.append() stores each event exactly as given plus seq and ingest_ts", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, NO_TIMER);
    const ev = testEvent(7, {
      params: ["a,b", null, '"quoted"\n'],
      new_row: { id: "1", amount: "12345678901234567890.000001" },
      ingest_ts: 42,
    });
    await store.append({ source: "test", events: [ev] });
    await store.close();
    const [rec] = await Array.fromAsync(readLog(dir));
    assertEquals(rec!.event, { ...ev, seq: 0, ingest_ts: 42 });
  });
});

Deno.test("Store.append() from concurrent appenders shares fsyncs (group commit)", async () => {
  await withTempDir(async (dir) => {
    let commits = 0;
    const store = await Store.open(dir, { ...NO_TIMER, onCommit: () => commits++ });
    const appends = Array.from(
      { length: 50 },
      (_, i) => store.append({ source: `s${i % 5}`, events: [testEvent(i)], position: String(i) }),
    );
    const results = await Promise.all(appends);
    assertEquals(new Set(results.map((r) => r.firstSeq)).size, 50);
    assert(commits < 50, `expected fewer fsyncs than appends, got ${commits}`);
    await store.close();
    assertEquals((await verifyStore(dir)).ok, true);
  });
});

Deno.test("Store rolls segments by size; sealed segments are read-only and keep positions", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, { ...NO_TIMER, maxSegmentBytes: 2000 });
    for (let i = 0; i < 30; i++) {
      await store.append({ source: "s", events: [testEvent(i)], position: `pos-${i}` });
    }
    await store.close();
    const segs = await segmentPaths(dir);
    assert(segs.length >= 3, `expected several segments, got ${segs.length}`);
    for (const p of segs.slice(0, -1)) assertEquals((await Deno.stat(p)).mode! & 0o777, 0o444);
    const report = await verifyStore(dir);
    assertEquals([report.ok, report.events, report.segments], [true, 30, segs.length]);
    const again = await Store.open(dir, NO_TIMER);
    assertEquals(again.position("s"), "pos-29");
    await again.close();
  });
});

Deno.test("Store rolls a segment by age", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, { ...NO_TIMER, maxSegmentAgeMs: 1 });
    await store.append({ source: "s", events: [testEvent(0)] });
    await new Promise((r) => setTimeout(r, 5));
    await store.append({ source: "s", events: [testEvent(1)] });
    await store.close();
    assertEquals((await segmentPaths(dir)).length, 2);
    assertEquals((await verifyStore(dir)).events, 2);
  });
});

Deno.test("Store.checkpoint() signs size, root and chain; the key is 0600", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, NO_TIMER);
    await store.append({ source: "s", events: [testEvent(0), testEvent(1), testEvent(2)] });
    const cp = (await store.checkpoint())!;
    assertEquals(await store.checkpoint(), null, "nothing new: no second checkpoint");
    await store.close();
    const paths = storePaths(dir);
    assertEquals((await Deno.stat(`${paths.keys}/signing.key`)).mode! & 0o777, 0o600);
    const pub = await readPublicKey(paths.keys);
    assert(await verifyCheckpoint(cp, pub));
    assert(!(await verifyCheckpoint({ ...cp, size: 2 }, pub)), "changed size must not verify");
    const { checkpoints } = await readCheckpoints(paths.checkpoints);
    assertEquals(checkpoints.length, 1, "close() adds none when nothing changed");
    assertEquals(checkpoints[0], cp);
  });
});

Deno.test("Store.open() refuses a second writer on the same data dir", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, NO_TIMER);
    try {
      await assertRejects(() => Store.open(dir, { lockTimeoutMs: 100 }), StoreLockedError);
    } finally {
      await store.close();
    }
  });
});

Deno.test("Store.append() refuses only the batch with an event over the size limit", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, NO_TIMER);
    const huge = testEvent(0, { statement: "x".repeat(65 * 1024 * 1024) });
    // Submitted together, so that they share a group commit: only the bad batch is refused.
    const [before, bad, after] = await Promise.allSettled([
      store.append({ source: "a", events: [testEvent(1)], position: "a1" }),
      store.append({ source: "s", events: [testEvent(2), huge] }),
      store.append({ source: "b", events: [testEvent(3)], position: "b1" }),
    ]);
    assert(bad.status === "rejected" && bad.reason instanceof RangeError);
    assertEquals(before.status === "fulfilled" && before.value.firstSeq, 0);
    assertEquals(after.status === "fulfilled" && after.value.firstSeq, 1);
    const r = await store.append({ source: "s", events: [testEvent(4)] });
    assertEquals(r.firstSeq, 2);
    await store.close();
    const report = await verifyStore(dir);
    assertEquals([report.ok, report.events], [true, 3]);
    const again = await Store.open(dir, NO_TIMER);
    assertEquals([again.position("a"), again.position("b")], ["a1", "b1"]);
    await again.close();
  });
});

Deno.test("Store.open() refuses a log that lost events a checkpoint signed", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, NO_TIMER);
    await store.append({ source: "s", events: [testEvent(0), testEvent(1)] });
    await store.close();
    const [seg] = await segmentPaths(dir);
    const bytes = await Deno.readFile(seg!);
    // Cut inside the last event: what follows it (its group's commit record, the record of the
    // checkpoint) goes too.
    let lastEvent = 0;
    scanFrames(bytes, HEADER_SIZE, bytes.length, (f) => {
      if (f.type === FRAME_EVENT) lastEvent = f.offset;
    });
    await Deno.writeFile(seg!, bytes.subarray(0, lastEvent + 20));
    await assertRejects(() => Store.open(dir, NO_TIMER), StoreDamageError);
  });
});

Deno.test("Store.append() never strands a batch queued as the flush loop ends", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, NO_TIMER);
    let done = 0;
    const appender = async (k: number): Promise<void> => {
      for (let i = 0; i < 150; i++) {
        await store.append({ source: `s${k}`, events: [testEvent(i)], position: String(i) });
        done++;
        // Vary where the next append lands: right away, after a microtask, or a macrotask.
        if (i % 3 === 1) await Promise.resolve();
        if (i % 7 === 3) await new Promise((r) => setTimeout(r, 0));
      }
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"stuck">((r) => (timer = setTimeout(() => r("stuck"), 30_000)));
    const all = Promise.all(Array.from({ length: 12 }, (_, k) => appender(k)));
    const outcome = await Promise.race([all.then(() => "done" as const), deadline]);
    clearTimeout(timer);
    assertEquals(outcome, "done", `appends stuck after ${done} of 1800`);
    assertEquals(store.size, 1800);
    await store.close();
    assertEquals((await verifyStore(dir)).events, 1800);
  });
});
