import { CHECKPOINTS_FILE } from "../../../daemon/store/checkpoint.ts";
import { StoreDamageError } from "../../../daemon/store/errors.ts";
import { FRAME_COMMIT, FRAME_EVENT, HEADER_SIZE, scanFrames } from "../../../daemon/store/frame.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { verifyStore } from "../../../daemon/store/verify.ts";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { segmentPaths, testEvent, withTempDir } from "../../support/store.ts";

// Opened some 3,000 times: hashing inline spares a Worker start each time.
const NO_TIMER = { checkpointIntervalMs: 0, hashWorker: false };

/**
 * Builds the state a crash leaves: a checkpoint covering the first 4 events, then more records
 * (events and position records) that no checkpoint covers.
 */
async function crashedStore(dir: string): Promise<{ jsons: string[]; checkpoints: Uint8Array }> {
  const store = await Store.open(dir, NO_TIMER);
  await store.append({
    source: "a",
    events: [0, 1, 2, 3].map((i) => testEvent(i)),
    position: "a4",
  });
  await store.checkpoint();
  const checkpoints = await Deno.readFile(`${dir}/${CHECKPOINTS_FILE}`);
  for (let i = 4; i < 12; i++) {
    await store.append({ source: "b", events: [testEvent(i)], position: `b${i}` });
    if (i === 5) await store.append({ source: "a", events: [], position: "a-late" });
  }
  await store.close();
  const jsons = (await Array.fromAsync(readLog(dir))).map((r) => r.json);
  return { jsons, checkpoints };
}

Deno.test("Store.open() recovers from a cut at every byte offset of the last segment", async () => {
  await withTempDir(async (dir) => {
    const { jsons, checkpoints } = await crashedStore(dir);
    const [seg] = await segmentPaths(dir);
    const full = await Deno.readFile(seg!);
    // Frame ends, with the number of events stored up to each.
    const ends: { end: number; events: number; commit: boolean; position: string | undefined }[] =
      [];
    let events = 0;
    scanFrames(full, HEADER_SIZE, full.length, (f) => {
      const body = JSON.parse(
        new TextDecoder().decode(full.subarray(f.payload + 33, f.payload + f.length)),
      );
      if (f.type === 0) events++;
      ends.push({
        end: f.payload + f.length,
        events,
        commit: f.type === FRAME_COMMIT,
        position: f.type === 1 ? body.source + ":" + body.pos : undefined,
      });
    });
    // The segment starts with a commit record, and every group ends with one.
    assert(ends[0]!.commit && ends.at(-1)!.commit);
    const covered = 4;
    let recovered = 0;
    let refused = 0;
    for (let cut = HEADER_SIZE; cut <= full.length; cut++) {
      await Deno.writeFile(seg!, full.subarray(0, cut));
      await Deno.writeFile(`${dir}/${CHECKPOINTS_FILE}`, checkpoints);
      // The log ends with the last whole group; a cut inside the first commit record leaves
      // none, and the store puts that record back.
      const last = ends.filter((e) => e.commit && e.end <= cut).at(-1) ?? ends[0]!;
      const whole = ends.filter((e) => e.end <= last.end);
      const want = last.events;
      if (want < covered) {
        await assertRejects(() => Store.open(dir, NO_TIMER), StoreDamageError);
        refused++;
        continue;
      }
      const store = await Store.open(dir, NO_TIMER);
      assertEquals(store.size, want, `cut at ${cut}`);
      const lastB = whole.filter((e) => e.position?.startsWith("b:")).at(-1)?.position;
      assertEquals(store.position("b"), lastB?.slice(2), `position of b after cut at ${cut}`);
      await store.close();
      // The log as it was up to the cut's last whole group; after it, only commit records (the
      // one that records the checkpoint the close signed).
      const now = await Deno.readFile(seg!);
      assertEquals(now.subarray(0, last.end), full.subarray(0, last.end), `cut at ${cut}`);
      const after: number[] = [];
      const stop = scanFrames(now, last.end, now.length, (f) => after.push(f.type));
      assertEquals([stop.kind, after.every((t) => t === FRAME_COMMIT)], ["end", true]);
      const got = (await Array.fromAsync(readLog(dir))).map((r) => r.json);
      assertEquals(got, jsons.slice(0, want), `events after cut at ${cut}`);
      recovered++;
    }
    assert(recovered > 100 && refused > 100, `recovered ${recovered}, refused ${refused}`);
    const report = await verifyStore(dir);
    assert(report.ok, report.problem?.text);
  });
});

Deno.test("Store.open() treats a zero-filled tail as torn and keeps appending after it", async () => {
  await withTempDir(async (dir) => {
    const { jsons } = await crashedStore(dir);
    const [seg] = await segmentPaths(dir);
    const full = await Deno.readFile(seg!);
    await Deno.writeFile(seg!, new Uint8Array([...full, ...new Uint8Array(4096)]));
    const store = await Store.open(dir, NO_TIMER);
    assertEquals(store.size, jsons.length);
    await store.append({ source: "c", events: [testEvent(99)] });
    await store.close();
    assert((await verifyStore(dir)).ok);
  });
});

Deno.test("Store.open() refuses a bad record in the middle of the last segment", async () => {
  await withTempDir(async (dir) => {
    await crashedStore(dir);
    const [seg] = await segmentPaths(dir);
    const full = await Deno.readFile(seg!);
    const first = firstEventOffset(full);
    full[first + 40]! ^= 0x01;
    await Deno.writeFile(seg!, full);
    await Deno.remove(`${dir}/${CHECKPOINTS_FILE}`);
    const err = await assertRejects(() => Store.open(dir, NO_TIMER), StoreDamageError);
    assertEquals(err.place.offset, first);
  });
});

/** Offset of the first event record of a segment's bytes. */
function firstEventOffset(buf: Uint8Array): number {
  let first = -1;
  scanFrames(buf, HEADER_SIZE, buf.length, (f) => {
    if (first < 0 && f.type === FRAME_EVENT) first = f.offset;
  });
  assert(first > 0, "the segment holds an event");
  return first;
}
