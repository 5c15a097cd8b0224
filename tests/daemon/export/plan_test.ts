/**
 * `planExport` maps an event-time range to the seq run from the first to the last event in it,
 * late-delivered events included, reading only the blocks whose time span meets the range: the
 * run is the one a whole scan of the log gives, with spans (`VIGILSZ2`), without them
 * (`VIGILSZ1`, a store of the previous format) and on plain segments, and such a store still
 * exports and verifies.
 */

import { writeBundle } from "../../../daemon/export/bundle.ts";
import { verifyBundle } from "../../../daemon/export/bundle_verify.ts";
import { logParts } from "../../../daemon/export/log_parts.ts";
import { NothingToExportError, planExport } from "../../../daemon/export/plan.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { compressSealedSegment } from "../../../daemon/store/compress_file.ts";
import { decodeBlockTable } from "../../../daemon/store/segment_compress.ts";
import { listSegments } from "../../../daemon/store/segment_file.ts";
import { Store } from "../../../daemon/store/store.ts";
import { storePaths } from "../../../daemon/store/store_open.ts";
import { verifyStore } from "../../../daemon/store/verify.ts";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { downgradeToV1 } from "../../support/compressed_v1.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

const T0 = Date.UTC(2026, 0, 1) * 1000;
const N = 9_000;
/** Event `i`'s time: 1 ms apart; every 50th 0.3 s late; event 4,500 delivered 4.4 s late. */
function tsOf(i: number): number {
  if (i === 4_500) return T0 + 100 * 1000 + 1;
  return T0 + i * 1000 - (i % 50 === 7 ? 300_000 : 0);
}

/** A signed store of N events in segments of several 1 MiB blocks, all but the newest compressed. */
async function makeStore(dir: string): Promise<void> {
  const s = await Store.open(dir, {
    checkpointIntervalMs: 0,
    hashWorker: false,
    maxSegmentBytes: 3 * 1024 * 1024,
  });
  for (let i = 0; i < N; i += 20) {
    const events = Array.from(
      { length: 20 },
      (_, k) => testEvent(i + k, { ts: tsOf(i + k), statement: "x".repeat(800) }),
    );
    await s.append({ source: "s", events });
  }
  await s.checkpoint();
  await s.close();
  const segments = await listSegments(storePaths(dir).segments);
  for (const seg of segments.slice(0, -1)) {
    if (!seg.compressed) await compressSealedSegment(seg.path, seg.firstSeq);
  }
}

/** The run a whole scan gives: from the first to the last seq with `lo ≤ ts < hi`, or null. */
async function scanned(dir: string, lo: number, hi: number): Promise<[number, number] | null> {
  let first = -1, last = -1;
  for await (const r of readLog(dir)) {
    if (r.event.ts >= lo && r.event.ts < hi) {
      if (first < 0) first = r.event.seq;
      last = r.event.seq;
    }
  }
  return first < 0 ? null : [first, last + 1];
}

const RANGES: [number, number][] = [
  [T0, T0 + N * 1000], // everything
  [T0 + 4_000 * 1000, T0 + 4_200 * 1000], // the middle: late events reach back into it
  [T0 + 100 * 1000, T0 + 100 * 1000 + 2], // held only by the 4.4 s late event 4,500 and event 100
  [T0 + 100 * 1000 + 1, T0 + 100 * 1000 + 2], // event 4,500 alone, far from its neighbours
  [T0 + 8_999 * 1000, T0 + 9_500 * 1000], // the last
  [T0 + 7_000 - 300_000, T0 + 7_001 - 300_000], // event 7 alone, 0.3 s late
  [T0 + 5_000 * 1000 + 1, T0 + 5_000 * 1000 + 999], // between events: none
  [T0 + 20_000 * 1000, T0 + 30_000 * 1000], // after every event
];

/** Asserts that every range plans to what a whole scan gives. */
async function plansAsScanned(dir: string, label: string): Promise<void> {
  for (const [lo, hi] of RANGES) {
    const want = await scanned(dir, lo, hi);
    if (want === null) {
      await assertRejects(() => planExport(dir, { from: lo, to: hi }), NothingToExportError);
      continue;
    }
    const plan = await planExport(dir, { from: lo, to: hi });
    assertEquals([plan.firstSeq, plan.endSeq], want, `${label}: [${lo - T0}, ${hi - T0})`);
  }
}

Deno.test("planExport() finds a range's run through block time spans, late events included", async () => {
  await withTempDir(async (dir) => {
    await makeStore(dir);
    const segments = await listSegments(storePaths(dir).segments);
    assert(segments.filter((s) => s.compressed).length >= 2, "compressed segments");
    const blocks = decodeBlockTable(await Deno.readFile(segments[0]!.path)).blocks;
    assert(blocks.length >= 2 && blocks.every((b) => b.times !== undefined), "blocks with spans");
    // The spans leave out the blocks a middle range cannot touch: what makes planning cheap.
    const parts = await logParts(dir, 0, N);
    const [lo, hi] = RANGES[1]!;
    const meeting = parts.filter((p) => !p.times || (p.times.min < hi && p.times.max >= lo));
    assert(meeting.length < parts.length / 2, `${meeting.length} of ${parts.length} parts`);
    // The 4.4 s late event's block spans back to it.
    const late = parts.find((p) => p.from <= 4_500 && 4_500 < p.to)!;
    assert(late.times!.min <= T0 + 100 * 1000 + 1, "the late event's block reaches back");
    await plansAsScanned(dir, "with spans");
  });
});

Deno.test("a store of the previous format (blocks without spans) still plans, exports and verifies", async () => {
  await withTempDir(async (dir) => {
    await makeStore(dir);
    for (const seg of await listSegments(storePaths(dir).segments)) {
      if (seg.compressed) await downgradeToV1(seg.path);
    }
    const first = (await listSegments(storePaths(dir).segments))[0]!;
    const head = new TextDecoder().decode((await Deno.readFile(first.path)).subarray(0, 8));
    assertEquals(head, "VIGILSZ1");
    assert(decodeBlockTable(await Deno.readFile(first.path)).blocks.every((b) => !b.times));
    await plansAsScanned(dir, "without spans");
    const checked = await verifyStore(dir);
    assert(checked.ok, checked.problem?.text);
    const [lo, hi] = RANGES[1]!;
    const summary = await writeBundle(dir, `${dir}-out`, { from: lo, to: hi });
    try {
      assertEquals([summary.firstSeq, summary.lastSeq + 1], (await scanned(dir, lo, hi))!);
      const report = await verifyBundle(`${dir}-out`);
      assertEquals(report.problems, []);
    } finally {
      await Deno.remove(`${dir}-out`, { recursive: true });
    }
  });
});
