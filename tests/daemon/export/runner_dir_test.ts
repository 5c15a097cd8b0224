/**
 * The exporter against the local-directory sink: the signed log goes out as Hive-partitioned
 * Parquet that DuckDB reads like the store, later events go in a second run without gap or
 * overlap, and a run stopped halfway resumes without writing a confirmed file twice.
 */

import { Exporter } from "../../../daemon/export/exporter.ts";
import { JOURNAL_FILE, readJournal } from "../../../daemon/export/journal.ts";
import type { RunProgress } from "../../../daemon/export/run_target.ts";
import type { ExportTarget } from "../../../daemon/export/target.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals, assertEventually, assertRejects } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";
import { archiveRuns, assertArchiveHolds, assertRunVerifies } from "./_archive.ts";
import { bundleEvent, EVENTS, filesUnder, makeStore, storedEvents } from "./_bundle_store.ts";

function dirTarget(path: string): ExportTarget {
  return { name: "local", type: "dir", path, intervalMs: 60_000 };
}

async function uploadedKeys(data: string): Promise<string[]> {
  return (await readJournal(data)).flatMap((r) => r.op === "uploaded" ? [r.key] : []);
}

Deno.test("Exporter exports the signed log to a directory; DuckDB reads it like the store", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`, archive = `${dir}/archive`;
    await makeStore(data);
    const exporter = new Exporter(data, [dirTarget(archive)]);
    const first = await exporter.runNow();
    assertEquals(first.get("local")!.exportedEnd, EVENTS);
    await assertArchiveHolds(archive, await storedEvents(data));
    const again = await exporter.runNow();
    assertEquals(again.get("local")!.runs, [], "nothing new: no second run");

    // More events and a checkpoint: the next run starts where the first ended.
    const store = await Store.open(data, { checkpointIntervalMs: 0, hashWorker: false });
    for (let i = EVENTS; i < EVENTS + 30; i++) {
      await store.append({ source: bundleEvent(i).source, events: [bundleEvent(i)] });
    }
    await store.close();
    const second = await exporter.runNow();
    assertEquals(second.get("local")!.runs.map((r) => [r.firstSeq, r.endSeq]), [[
      EVENTS,
      EVENTS + 30,
    ]]);
    await assertArchiveHolds(archive, await storedEvents(data));
    const runs = await archiveRuns(archive);
    assertEquals(runs, ["000000000000-000000000119", "000000000120-000000000149"]);
    for (const run of runs) await assertRunVerifies(archive, run, `${dir}/check-${run}`);
    const status = exporter.status().targets[0]!;
    assertEquals([status.state, status.exportedEnd, status.lastError], ["idle", EVENTS + 30, null]);
    const keys = await uploadedKeys(data);
    assertEquals(new Set(keys).size, keys.length, "every key uploaded once");
  });
});

Deno.test("Exporter resumes a stopped run without writing a confirmed file again", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`, archive = `${dir}/archive`;
    await makeStore(data);
    let stopAt = 3;
    const exporter: Exporter = new Exporter(data, [dirTarget(archive)], {
      onProgress: (p: RunProgress) => {
        if (p.phase === "uploading" && p.files.done === stopAt) void exporter.stop();
      },
    });
    await assertRejects(() => exporter.runNow(), { message: /exporter stopped/ });
    assertEquals(exporter.status().targets[0]!.state, "failed");
    const journal = await readJournal(data);
    assertEquals(journal.filter((r) => r.op === "done").length, 0);
    assertEquals((await uploadedKeys(data)).length, 3);
    const plan = journal.find((r) => r.op === "plan")!;
    assert(plan.op === "plan" && plan.files.length > 5);

    // A crash after a file was written but before its journal line: drop that line.
    const lines = (await Deno.readTextFile(`${data}/${JOURNAL_FILE}`)).trimEnd().split("\n");
    await Deno.writeTextFile(`${data}/${JOURNAL_FILE}`, lines.slice(0, -1).join("\n") + "\n");
    const before = await Deno.stat(`${archive}/${plan.files[2]!.key}`);

    stopAt = -1;
    let skipped = 0;
    const resumed = new Exporter(data, [dirTarget(archive)], {
      onProgress: (p) => (skipped = p.skipped),
    });
    const r = await resumed.runNow();
    assertEquals(r.get("local")!.exportedEnd, EVENTS);
    assertEquals(skipped, 1, "the file written before the crash is confirmed, not written again");
    assertEquals((await Deno.stat(`${archive}/${plan.files[2]!.key}`)).mtime, before.mtime);
    const keys = await uploadedKeys(data);
    assertEquals(keys.sort(), plan.files.map((f) => f.key).sort(), "each planned key once");
    assertEquals(
      (await filesUnder(archive)).sort(),
      plan.files.map((f) => f.key).sort(),
      "nothing else in the archive",
    );
    await assertArchiveHolds(archive, await storedEvents(data));
  });
});

Deno.test("Exporter re-sends a file the journal has as uploaded but the target lost", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`, archive = `${dir}/archive`;
    await makeStore(data);
    let stopped = false;
    const exporter: Exporter = new Exporter(data, [dirTarget(archive)], {
      onProgress: (p) => {
        if (!stopped && p.phase === "uploading" && p.files.done === 2) {
          stopped = true;
          void exporter.stop();
        }
      },
    });
    await assertRejects(() => exporter.runNow());
    const [lost] = await uploadedKeys(data);
    await Deno.remove(`${archive}/${lost}`);
    await exporter.runNow();
    await Deno.stat(`${archive}/${lost}`);
    await assertArchiveHolds(archive, await storedEvents(data));
  });
});

Deno.test("Exporter.start() runs each target at once and keeps a plain status", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`, archive = `${dir}/archive`;
    await makeStore(data);
    const exporter = new Exporter(data, [dirTarget(archive)]);
    await exporter.load();
    assertEquals(exporter.status().targets[0]!.exportedEnd, 0);
    exporter.start();
    try {
      await assertEventually(() => exporter.status().targets[0]!.lastSuccessAt !== null, {
        timeoutMs: 60_000,
        message: "the first scheduled run",
      });
      const s = exporter.status().targets[0]!;
      assertEquals([s.state, s.exportedEnd, s.location], ["idle", EVENTS, `dir ${archive}`]);
      assert(s.nextRunAt !== null);
      assertEquals(JSON.parse(JSON.stringify(s)), s, "plain data, for the UI and metrics");
    } finally {
      await exporter.stop();
    }
  });
});
