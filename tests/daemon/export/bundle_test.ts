import { canonicalJson } from "../../../daemon/event/canonical.ts";
import { writeBundle } from "../../../daemon/export/bundle.ts";
import { verifyBundle } from "../../../daemon/export/bundle_verify.ts";
import { type Manifest, parseManifest } from "../../../daemon/export/manifest.ts";
import { readParquetEvents, readParquetFooter } from "../../../daemon/export/parquet.ts";
import { decodeParquetMeta } from "../../../daemon/export/parquet_meta.ts";
import { bundleFilePath, partitionOf } from "../../../daemon/export/partition.ts";
import { NothingToExportError } from "../../../daemon/export/plan.ts";
import { readCheckpoints } from "../../../daemon/store/checkpoint.ts";
import { StoreDamageError } from "../../../daemon/store/errors.ts";
import { storePaths } from "../../../daemon/store/store_open.ts";
import { framesOf, rechain, rewriteBody } from "../../support/forge.ts";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { makeWritable, withTempDir } from "../../support/store.ts";
import {
  CHECKPOINTS_AT,
  EVENTS,
  filesUnder,
  HOUR,
  makeStore,
  storedEvents,
  T0,
} from "./_bundle_store.ts";

async function manifestOf(dir: string): Promise<Manifest> {
  return parseManifest(await Deno.readFile(`${dir}/manifest.json`));
}

Deno.test("writeBundle() exports every signed event, one file per source and day, and verifies", async () => {
  await withTempDir(async (dir) => {
    await makeStore(`${dir}/data`);
    const summary = await writeBundle(`${dir}/data`, `${dir}/out`);
    assertEquals([summary.firstSeq, summary.lastSeq, summary.events], [0, EVENTS - 1, EVENTS]);
    assertEquals(summary.unsigned, 0);
    const m = await manifestOf(`${dir}/out`);
    assertEquals(m.range, { first_seq: 0, last_seq: EVENTS - 1, events: EVENTS });
    assertEquals(m.previous_checkpoint, null);
    assertEquals(m.inner_checkpoints.map((c) => c.size), CHECKPOINTS_AT);
    assertEquals([m.checkpoint.size, m.suffix.nodes, m.frontier.nodes], [EVENTS, [], []]);
    const events = await storedEvents(`${dir}/data`);
    // One file per source and day, under events/date=<day>/ and named by its seqs.
    const bySeqs = new Map<string, { first: number; last: number }>();
    for (const e of events) {
      const key = JSON.stringify(partitionOf(e));
      const got = bySeqs.get(key);
      bySeqs.set(key, { first: got?.first ?? e.seq, last: e.seq });
    }
    const paths = [...bySeqs].map(([k, seqs]) => bundleFilePath(JSON.parse(k), seqs));
    assertEquals(m.files.map((f) => f.path), paths.sort());
    assertEquals(m.version, 2);
    assertEquals(
      await filesUnder(`${dir}/out`),
      [
        ...m.files.map((f) => f.path),
        "README.txt",
        "manifest.json",
        "manifest.sig",
        "public_key.pem",
      ]
        .sort(),
    );
    const report = await verifyBundle(`${dir}/out`);
    assertEquals(report.problems, []);
    assert(report.ok);
  });
});

Deno.test("writeBundle() files hold each event of their partition, in seq order, exactly", async () => {
  await withTempDir(async (dir) => {
    await makeStore(`${dir}/data`);
    await writeBundle(`${dir}/data`, `${dir}/out`);
    const m = await manifestOf(`${dir}/out`);
    const events = await storedEvents(`${dir}/data`);
    for (const f of m.files) {
      const bytes = await Deno.readFile(`${dir}/out/${f.path}`);
      const want = events.filter((e) =>
        e.source === f.source && partitionOf(e).date === f.date &&
        f.path.startsWith(`events/date=${f.date}/`)
      );
      const got = await readParquetEvents(bytes);
      assertEquals(got.map(canonicalJson), want.map(canonicalJson), f.path);
      assertEquals([f.rows, f.first_seq, f.last_seq], [
        want.length,
        want[0]!.seq,
        want.at(-1)!.seq,
      ]);
      const meta = decodeParquetMeta((await readParquetFooter(bytes)).keyValue)!;
      assertEquals([meta.firstSeq, meta.lastSeq, meta.rows], [f.first_seq, f.last_seq, f.rows]);
      assertEquals(meta.leaves, { from: 0, to: EVENTS });
      assertEquals(meta.checkpoint, m.checkpoint);
    }
  });
});

Deno.test("writeBundle() makes the same bundle, byte for byte, from the same store", async () => {
  await withTempDir(async (dir) => {
    await makeStore(`${dir}/data`);
    const opts = { from: T0 + 20 * HOUR, to: T0 + 50 * HOUR };
    await writeBundle(`${dir}/data`, `${dir}/a`, opts);
    await writeBundle(`${dir}/data`, `${dir}/b`, opts);
    const files = await filesUnder(`${dir}/a`);
    assertEquals(await filesUnder(`${dir}/b`), files);
    for (const f of files) {
      assertEquals(await Deno.readFile(`${dir}/b/${f}`), await Deno.readFile(`${dir}/a/${f}`), f);
    }
  });
});

Deno.test("writeBundle() maps --from/--to to the contiguous seqs from the first to the last event in range", async () => {
  await withTempDir(async (dir) => {
    await makeStore(`${dir}/data`);
    const from = T0 + 20 * HOUR, to = T0 + 50 * HOUR;
    const inRange = (await storedEvents(`${dir}/data`)).filter((e) => e.ts >= from && e.ts < to);
    const a = inRange[0]!.seq, b = inRange.at(-1)!.seq + 1;
    const summary = await writeBundle(`${dir}/data`, `${dir}/out`, { from, to });
    assertEquals([summary.firstSeq, summary.lastSeq], [a, b - 1]);
    const m = await manifestOf(`${dir}/out`);
    assertEquals(m.files.reduce((n, f) => n + f.rows, 0), b - a, "events in between are kept");
    assertEquals(m.requested, {
      from: "2026-01-01T20:00:00.000000Z",
      to: "2026-01-03T02:00:00.000000Z",
    });
    // The range starts after checkpoint 13 and ends before 90: both compact ranges are used.
    assertEquals(m.previous_checkpoint?.size, 13);
    assertEquals(m.checkpoint.size, 90);
    assertEquals(m.inner_checkpoints.map((c) => c.size), [50]);
    assertEquals(m.frontier.size, a);
    assert(m.suffix.nodes.length > 0 && m.consistency.proof.length > 0);
    assertEquals((await verifyBundle(`${dir}/out`)).problems, []);
  });
});

Deno.test("writeBundle() leaves out events no checkpoint signs yet, and says how many", async () => {
  await withTempDir(async (dir) => {
    const store = (await makeStore(`${dir}/data`, { events: 30, keepOpen: true, unsigned: 7 }))!;
    try {
      const summary = await writeBundle(`${dir}/data`, `${dir}/out`);
      assertEquals([summary.lastSeq, summary.unsigned], [29, 7]);
      assertEquals((await verifyBundle(`${dir}/out`)).problems, []);
    } finally {
      await store.close();
    }
  });
});

Deno.test("writeBundle() refuses a time range with no signed event and writes nothing", async () => {
  await withTempDir(async (dir) => {
    await makeStore(`${dir}/data`, { events: 10 });
    await assertRejects(
      () => writeBundle(`${dir}/data`, `${dir}/out`, { from: T0 + 1000 * HOUR }),
      { instanceOf: NothingToExportError, message: "no signed event" },
    );
    assertEquals((await filesUnder(dir)).filter((p) => !p.startsWith("data/")), []);
  });
});

Deno.test("writeBundle() refuses a non-empty --out and a store without a signing key", async () => {
  await withTempDir(async (dir) => {
    await makeStore(`${dir}/data`, { events: 5 });
    await Deno.mkdir(`${dir}/out`);
    await Deno.writeTextFile(`${dir}/out/keep.txt`, "mine");
    await assertRejects(() => writeBundle(`${dir}/data`, `${dir}/out`), {
      message: "not empty",
    });
    assertEquals(await filesUnder(`${dir}/out`), ["keep.txt"]);
    await Deno.remove(storePaths(`${dir}/data`).keys, { recursive: true });
    await assertRejects(() => writeBundle(`${dir}/data`, `${dir}/fresh`), {
      message: "no signing key",
    });
    await assertRejects(() => Deno.stat(storePaths(`${dir}/data`).keys), {
      instanceOf: Deno.errors.NotFound,
    });
    assertEquals(
      (await readCheckpoints(storePaths(`${dir}/data`).checkpoints)).checkpoints.length,
      1,
    );
  });
});

Deno.test("writeBundle() into an existing empty directory replaces it with the bundle", async () => {
  await withTempDir(async (dir) => {
    await makeStore(`${dir}/data`, { events: 5 });
    await Deno.mkdir(`${dir}/out`);
    await writeBundle(`${dir}/data`, `${dir}/out/`);
    assert((await verifyBundle(`${dir}/out`)).ok);
    assertEquals((await filesUnder(dir)).filter((p) => p.includes(".vigil-export-")), []);
  });
});

Deno.test("writeBundle() refuses a log rewritten under its signatures, and writes nothing", async () => {
  await withTempDir(async (dir) => {
    await makeStore(`${dir}/data`, { events: 30 });
    await makeWritable(`${dir}/data`);
    // Root on the box rewrites an event and re-chains the log: CRCs and chain links all agree.
    const target = (await framesOf(`${dir}/data`)).filter((f) => f.type === 0)[20]!;
    const body = new TextDecoder().decode(
      (await Deno.readFile(target.segment)).subarray(
        target.payload + 33,
        target.payload + target.length,
      ),
    );
    await rewriteBody(target, body.replace("SELECT 20 ", "SELECT 99 "));
    await rechain(`${dir}/data`);
    await assertRejects(() => writeBundle(`${dir}/data`, `${dir}/out`), {
      instanceOf: StoreDamageError,
      message: "do not reproduce the root of checkpoint of size 30",
    });
    assertEquals((await filesUnder(dir)).filter((p) => !p.startsWith("data/")), []);
  });
});
