/**
 * A group commit is all or nothing across a crash. A kill -9 during a large write leaves the
 * first records of a group on disk (the kernel stops a write at a page when the process dies);
 * before commit records, recovery kept those whole events without the position record after
 * them, so a source resumed from the position before and stored them again. Here the cut is
 * made by hand at every frame boundary of a group, the store reopened, and a source resumed
 * through the pipeline: every upstream item ends up stored exactly once.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import { runSource } from "../../../daemon/pipeline.ts";
import type { Source } from "../../../daemon/source.ts";
import { FRAME_POSITION, HEADER_SIZE, scanFrames } from "../../../daemon/store/frame.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { verifyStore } from "../../../daemon/store/verify.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { segmentPaths, withTempDir } from "../../support/store.ts";

const NO_TIMER = { checkpointIntervalMs: 0, hashWorker: false };
const ITEMS = 30;
const BATCH = 10;

function item(i: number): NewEvent {
  return {
    ts: 1_700_000_000_000_000 + i,
    source: "src",
    kind: "app",
    command: "T",
    object: `${i}`,
  };
}

/** Emits items [position, end) in batches of BATCH, each with the position after it. */
function upstreamSource(end: number): Source {
  return {
    async run(ctx) {
      for (let next = Number(ctx.position ?? 0); next < end; next += BATCH) {
        const to = Math.min(end, next + BATCH);
        const events = Array.from({ length: to - next }, (_, k) => item(next + k));
        await ctx.emit({ events, position: String(to) });
      }
    },
  };
}

async function resume(dir: string, end: number): Promise<void> {
  const store = await Store.open(dir, NO_TIMER);
  try {
    await runSource(store, upstreamSource(end), {
      name: "src",
      signal: new AbortController().signal,
    });
  } finally {
    await store.close();
  }
}

Deno.test("a group cut short at any frame boundary is dropped whole: the resumed source stores each item once", async () => {
  await withTempDir(async (dir) => {
    await resume(`${dir}/orig`, ITEMS);
    const [seg] = await segmentPaths(`${dir}/orig`);
    const full = await Deno.readFile(seg!);
    const ends: { end: number; type: number }[] = [];
    scanFrames(
      full,
      HEADER_SIZE,
      full.length,
      (f) => ends.push({ end: f.payload + f.length, type: f.type }),
    );
    // The last group: after the position record that ends the one before it, up to its own
    // position record (found by position records, so that the test runs on any format).
    const positions = ends.filter((e) => e.type === FRAME_POSITION);
    const groupStart = positions.at(-2)!.end;
    const cuts = ends.filter((e) => e.end >= groupStart && e.end < positions.at(-1)!.end);
    assert(cuts.length >= BATCH, "a cut after each event of the last group");
    for (const { end } of cuts) {
      const copy = `${dir}/cut-${end}`;
      await Deno.mkdir(`${copy}/segments`, { recursive: true });
      await Deno.copyFile(`${dir}/orig/FORMAT`, `${copy}/FORMAT`);
      await Deno.mkdir(`${copy}/keys`);
      for await (const k of Deno.readDir(`${dir}/orig/keys`)) {
        if (k.isFile) await Deno.copyFile(`${dir}/orig/keys/${k.name}`, `${copy}/keys/${k.name}`);
      }
      // What a kill -9 in the middle of the write leaves: whole records, no commit record, and no
      // checkpoint of what was never acknowledged.
      await Deno.writeFile(
        `${copy}/segments/${seg!.slice(seg!.lastIndexOf("/") + 1)}`,
        full.subarray(0, end),
      );
      const store = await Store.open(copy, NO_TIMER);
      // The source's position covers exactly the events stored for it, no more and no fewer.
      assertEquals(store.position("src"), String(store.size), `cut at ${end}`);
      await store.close();
      await resume(copy, ITEMS);
      const objects = (await Array.fromAsync(readLog(copy))).map((r) => r.event.object);
      assertEquals(objects, Array.from({ length: ITEMS }, (_, i) => `${i}`), `cut at ${end}`);
      const report = await verifyStore(copy);
      assert(report.ok, report.problem?.text);
      await Deno.remove(copy, { recursive: true });
    }
  });
});
