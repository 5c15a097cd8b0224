/**
 * Retention: local segments go only once every target holds them and the local retention has
 * passed, never the last two; the deletion is a `system` event in the chain; and the store still
 * verifies — from the retained frontier — reopens, appends, exports and bundles afterwards.
 */

import { writeBundle } from "../../../daemon/export/bundle.ts";
import { verifyBundle } from "../../../daemon/export/bundle_verify.ts";
import { Exporter } from "../../../daemon/export/exporter.ts";
import { applyRetention } from "../../../daemon/export/retention.ts";
import type { ExportTarget } from "../../../daemon/export/target.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { RETAINED_FILE } from "../../../daemon/store/retained.ts";
import { Store } from "../../../daemon/store/store.ts";
import { verifyStore } from "../../../daemon/store/verify.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { segmentPaths, testEvent, withTempDir } from "../../support/store.ts";
import { withDuckDb } from "./_archive.ts";

const EVENTS = 200;

/** A store of many small segments, signed at its end. */
async function smallSegments(data: string, from = 0, n = EVENTS): Promise<void> {
  const store = await Store.open(data, {
    checkpointIntervalMs: 0,
    hashWorker: false,
    maxSegmentBytes: 4096,
  });
  for (let i = from; i < from + n; i++) {
    await store.append({ source: "test", events: [testEvent(i)] });
  }
  await store.close();
}

function target(name: string, path: string): ExportTarget {
  return { name, type: "dir", path, intervalMs: 60_000 };
}

Deno.test("applyRetention() deletes exported old segments; the store still verifies", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await smallSegments(data);
    const segmentsBefore = await segmentPaths(data);
    assert(segmentsBefore.length > 6, `${segmentsBefore.length} segments`);

    // Nothing exported yet: nothing goes.
    let r = await applyRetention(data, { targets: ["a"], localRetentionMs: 0 });
    assertEquals(r.deleted, []);
    assertMatch(r.reason, /not every export target/);

    await new Exporter(data, [target("a", `${dir}/a`)]).runNow();
    // One of two targets holds the events: nothing goes.
    r = await applyRetention(data, { targets: ["a", "b"], localRetentionMs: 0 });
    assertEquals(r.deleted, []);
    // Both hold them but the local retention has not passed: nothing goes.
    await new Exporter(data, [target("b", `${dir}/b`)]).runNow();
    r = await applyRetention(data, { targets: ["a", "b"], localRetentionMs: 3_600_000 });
    assertEquals(r.deleted, []);
    assertMatch(r.reason, /local retention/);

    r = await applyRetention(data, { targets: ["a", "b"], localRetentionMs: 0 });
    const after = await segmentPaths(data);
    assertEquals(r.deleted.length, segmentsBefore.length - 2, "all but the last two");
    assertEquals(after, segmentsBefore.slice(-2));
    assertEquals(r.fromSeq, 0);

    const report = await verifyStore(data);
    assert(report.ok, report.problem?.text);
    assertEquals(report.retainedFrom, r.toSeq);
    assertEquals(report.events, EVENTS + 1, "the retention event was appended");
    const events = [];
    for await (const rec of readLog(data)) events.push(rec.event);
    assertEquals(events[0]!.seq, r.toSeq);
    const last = events[events.length - 1]!;
    assertEquals([last.kind, last.command, last.source], ["system", "RETENTION_DELETE", "vigil"]);
    assertEquals(last.context?.to_seq, r.toSeq);
    assertEquals(last.context?.segments, r.deleted);

    const cli = await runVigil(["verify", "--data", data]);
    assertEquals(cli.code, 0, cli.stderr + cli.stdout);
  });
});

Deno.test("after retention the store reopens, appends, exports and bundles what is left", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await smallSegments(data);
    const exporter = new Exporter(data, [target("a", `${dir}/a`)]);
    await exporter.runNow();
    const r = await applyRetention(data, { targets: ["a"], localRetentionMs: 0 });
    assert(r.deleted.length > 0);
    await smallSegments(data, EVENTS, 50);
    let report = await verifyStore(data);
    assert(report.ok, report.problem?.text);
    await exporter.runNow();
    // The archive holds every event ever stored, the deleted ones included, each once.
    const all = [];
    for await (const rec of readLog(data)) all.push(rec.event);
    assertEquals(all[0]!.seq, r.toSeq);
    const archived = (await Array.fromAsync(readLog(data))).length;
    assertEquals(archived, EVENTS + 51 - r.toSeq);
    await assertArchiveHoldsFrom(`${dir}/a`, data, r.toSeq);
    // A bundle of everything left starts at the retained start and verifies offline.
    await writeBundle(data, `${dir}/bundle`);
    const b = await verifyBundle(`${dir}/bundle`);
    assert(b.ok, b.problems.join("; "));
    assertEquals(b.manifest!.range.first_seq, r.toSeq);

    // A second pass deletes what became old enough since, continuing from the retained start.
    const r2 = await applyRetention(data, { targets: ["a"], localRetentionMs: 0 });
    assertEquals(r2.fromSeq, r.toSeq);
    report = await verifyStore(data);
    assert(report.ok, report.problem?.text);
    assertEquals(report.retainedFrom, r2.toSeq);
  });
});

Deno.test("after retention cut into the Merkle block being filled, the writer continues it from the retained roots", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await smallSegments(data, 0, 220);
    await new Exporter(data, [target("a", `${dir}/a`)]).runNow();
    const r = await applyRetention(data, { targets: ["a"], localRetentionMs: 0 });
    // The block of 64 leaves the writer was filling starts before the new start of the log.
    assert(r.toSeq % 64 !== 0 && Math.floor(221 / 64) * 64 < r.toSeq, `cut at ${r.toSeq}`);
    await smallSegments(data, 221, 60);
    const report = await verifyStore(data);
    assert(report.ok, report.problem?.text);
    assertEquals([report.events, report.retainedFrom], [281, r.toSeq]);
    for (const seq of [r.toSeq, 250]) {
      const p = await runVigil([
        "prove",
        "--data",
        data,
        "--seq",
        String(seq),
        "--from-size",
        "221",
      ]);
      assertEquals(p.code, 0, p.stderr + p.stdout);
    }
    await writeBundle(data, `${dir}/bundle`);
    const b = await verifyBundle(`${dir}/bundle`);
    assert(b.ok, b.problems.join("; "));
  });
});

Deno.test("vigil verify catches a forged retained start", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await smallSegments(data);
    await new Exporter(data, [target("a", `${dir}/a`)]).runNow();
    await applyRetention(data, { targets: ["a"], localRetentionMs: 0 });
    const good = await Deno.readTextFile(`${data}/${RETAINED_FILE}`);
    const start = JSON.parse(good);
    const forged = [
      { ...start, chain: "0".repeat(64) },
      {
        ...start,
        frontier: { ...start.frontier, nodes: start.frontier.nodes.map(() => "1".repeat(64)) },
      },
      { ...start, from_seq: start.from_seq + 1 },
    ];
    for (const f of forged) {
      await Deno.writeTextFile(`${data}/${RETAINED_FILE}`, JSON.stringify(f));
      const report = await verifyStore(data);
      assert(!report.ok, `forged ${JSON.stringify(f).slice(0, 80)} passed`);
    }
    await Deno.writeTextFile(`${data}/${RETAINED_FILE}`, good);
    assert((await verifyStore(data)).ok);
  });
});

async function assertArchiveHoldsFrom(archive: string, data: string, from: number): Promise<void> {
  // The archive holds seqs from 0; the store only from `from`: compare what both have.
  const kept = await Array.fromAsync(readLog(data));
  assertEquals(kept[0]!.seq, from);
  await withDuckDb(async (query) => {
    const [c] = await query(
      `SELECT count(*) AS n, count(DISTINCT seq) AS d, max(seq) AS hi FROM ` +
        `read_parquet('${archive}/date=*/*.parquet', hive_partitioning = true)`,
    );
    const end = kept[kept.length - 1]!.seq;
    assertEquals(c, { n: String(end + 1), d: String(end + 1), hi: String(end) });
  });
}
