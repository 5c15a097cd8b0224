/**
 * The export reads the log a segment at a time: over a store of many small segments, with
 * sources and days interleaved, the bundle holds every event once in the right file and
 * verifies, the same as one read from a single segment would; a range starting and ending
 * inside segments is exact; a byte flipped in a middle segment, or a segment gone, stops the
 * export with the place named and nothing written. `EventPeek` reads ts and source from
 * canonical bytes as `JSON.parse` would, including where it must fall back to it.
 */

import { canonicalEvent, canonicalJson } from "../../../daemon/event/canonical.ts";
import { writeBundle } from "../../../daemon/export/bundle.ts";
import { verifyBundle } from "../../../daemon/export/bundle_verify.ts";
import { EventPeek } from "../../../daemon/export/event_peek.ts";
import { scanLog } from "../../../daemon/export/log_scan.ts";
import { parseManifest } from "../../../daemon/export/manifest.ts";
import { readParquetEvents } from "../../../daemon/export/parquet.ts";
import { partitionOf } from "../../../daemon/export/partition.ts";
import { StoreDamageError } from "../../../daemon/store/errors.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../../support/assert.ts";
import { framesOf } from "../../support/forge.ts";
import { makeWritable, segmentPaths, withTempDir } from "../../support/store.ts";
import { bundleEvent, filesUnder, HOUR, storedEvents, T0 } from "./_bundle_store.ts";

const EVENTS = 600;

/** A store of EVENTS events in segments of ~8 KiB (dozens of them), checkpoints inside. */
async function manySegments(dir: string): Promise<void> {
  const store = await Store.open(dir, {
    checkpointIntervalMs: 0,
    hashWorker: false,
    maxSegmentBytes: 8 * 1024,
  });
  for (let i = 0; i < EVENTS; i += 3) {
    const events = [0, 1, 2].map((k) => bundleEvent(i + k));
    await store.append({ source: "mixed", events });
    if (i % 150 === 0) await store.checkpoint();
  }
  await store.close();
}

Deno.test("scanLog() yields each seq once, a segment at a time, from inside one to inside another", async () => {
  await withTempDir(async (dir) => {
    await manySegments(`${dir}/data`);
    const segments = (await segmentPaths(`${dir}/data`)).length;
    assert(segments > 10, `${segments} segments`);
    const seqs: number[] = [];
    let slices = 0;
    const peek = new EventPeek();
    const events = await storedEvents(`${dir}/data`);
    for await (const s of scanLog(`${dir}/data`, { fromSeq: 37, toSeq: 561 })) {
      slices++;
      const dv = new DataView(s.buf.buffer, s.buf.byteOffset);
      for (let i = 0; i < s.count; i++) {
        const f = s.frames[i]!;
        const p = peek.read(s.buf, f + 41, f + 8 + dv.getUint32(f));
        const ev = events[s.firstSeq + i]!;
        assertEquals([p.ts, p.source], [ev.ts, ev.source]);
        seqs.push(s.firstSeq + i);
      }
    }
    assertEquals(seqs, Array.from({ length: 561 - 37 }, (_, i) => 37 + i));
    assert(slices > 10 && slices <= segments, `${slices} slices`);
  });
});

Deno.test("writeBundle() over dozens of segments puts each event in its file once, and verifies", async () => {
  await withTempDir(async (dir) => {
    await manySegments(`${dir}/data`);
    const events = await storedEvents(`${dir}/data`);
    for (
      const [name, opts] of [["all", {}], ["range", {
        from: T0 + 50 * HOUR,
        to: T0 + 200 * HOUR,
      }]] as const
    ) {
      const out = `${dir}/${name}`;
      const summary = await writeBundle(`${dir}/data`, out, opts);
      const report = await verifyBundle(out);
      assertEquals(report.problems, [], name);
      const m = parseManifest(await Deno.readFile(`${out}/manifest.json`));
      const want = events.slice(summary.firstSeq, summary.lastSeq + 1);
      if (name === "range") {
        const inRange = events.filter((e) => e.ts >= opts.from! && e.ts < opts.to!);
        assertEquals([summary.firstSeq, summary.lastSeq], [inRange[0]!.seq, inRange.at(-1)!.seq]);
      }
      let rows = 0;
      for (const f of m.files) {
        const got = await readParquetEvents(await Deno.readFile(`${out}/${f.path}`));
        const mine = want.filter((e) => e.source === f.source && partitionOf(e).date === f.date);
        assertEquals(got.map(canonicalJson), mine.map(canonicalJson), f.path);
        rows += got.length;
      }
      assertEquals(rows, want.length, name);
      assert(!(await filesUnder(out)).some((p) => p.includes("spool")), "no spool left");
    }
  });
});

Deno.test("writeBundle() names a byte flipped in a middle segment (JSON or not), or a missing segment, and writes nothing", async () => {
  await withTempDir(async (dir) => {
    await manySegments(`${dir}/data`);
    await makeWritable(`${dir}/data`);
    const paths = await segmentPaths(`${dir}/data`);
    const middle = paths[Math.floor(paths.length / 2)]!;
    const bytes = await Deno.readFile(middle);
    const saved = bytes.slice();
    const frame = (await framesOf(`${dir}/data`)).filter((f) =>
      f.segment === middle && f.type === 0
    ).at(-2)!;
    bytes[frame.payload + frame.length - 3]! ^= 0x20; // inside an event's JSON
    await Deno.writeFile(middle, bytes);
    const name = middle.slice(middle.lastIndexOf("/") + 1);
    await assertRejects(() => writeBundle(`${dir}/data`, `${dir}/out`), {
      instanceOf: StoreDamageError,
      message: name,
    });
    // Bytes that are no JSON at all: the spooling, which reads each event's time and source
    // while the slice is hashed on another thread, fails on them, and the damage is what is said.
    const unreadable = saved.slice();
    unreadable[frame.payload + 33] = "}".charCodeAt(0); // the event's opening brace
    await Deno.writeFile(middle, unreadable);
    await assertRejects(() => writeBundle(`${dir}/data`, `${dir}/out`), {
      instanceOf: StoreDamageError,
      message: `${name} offset ${frame.offset}: CRC-32C mismatch`,
    });
    await Deno.writeFile(middle, saved);
    await Deno.remove(middle);
    await assertRejects(() => writeBundle(`${dir}/data`, `${dir}/out`), {
      instanceOf: StoreDamageError,
      message: "the log ends at seq",
    });
    assertEquals((await filesUnder(dir)).filter((p) => !p.startsWith("data/")), []);
  });
});

Deno.test("EventPeek reads ts and source as JSON.parse does, falling back to it where it must", () => {
  const peek = new EventPeek();
  const enc = new TextEncoder();
  const cases = [
    canonicalEvent({ ...bundleEvent(1), seq: 1, ingest_ts: 5 }),
    canonicalEvent({ ...bundleEvent(2), seq: 2, ingest_ts: 5, ts: -1_234_567 }),
    canonicalEvent({ ...bundleEvent(3), seq: 3, ingest_ts: 5, source: 'a "quoted"\\ one' }),
    canonicalEvent({ ...bundleEvent(4), seq: 4, ingest_ts: 5, source: "bücher-😀" }),
    canonicalEvent({ ...bundleEvent(5), seq: 5, source: "no-ingest-ts" }),
    canonicalEvent({ ...bundleEvent(6), seq: 6, ingest_ts: 5, source: "bücher-😀" }),
  ];
  for (const ev of cases) {
    const json = canonicalJson(ev);
    const padded = enc.encode(`xx${json}yy`);
    const p = peek.read(padded, 2, padded.length - 2);
    assertEquals([p.ts, p.source], [ev.ts, ev.source], json);
    assertEquals(peek.ts(padded, 2, padded.length - 2), ev.ts, json);
  }
  // Not canonical, but JSON: the parser's answer. Not JSON: a SyntaxError.
  const loose = enc.encode('{"ts": 7, "source": "x", "seq": 1}');
  assertEquals({ ...peek.read(loose, 0, loose.length) }, { ts: 7, source: "x" });
  assertEquals(peek.ts(loose, 0, loose.length), 7);
  const bad = enc.encode('{"seq":1,"ts":2,"source":"x');
  assertThrows(() => peek.read(bad, 0, bad.length), SyntaxError);
  const badTs = enc.encode('{"seq":1,"ts":2x}');
  assertThrows(() => peek.ts(badTs, 0, badTs.length), SyntaxError);
});
