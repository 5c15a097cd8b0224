/**
 * The export phase of `vigil bench scale` (`scale_bench.ts`): `vigil export` of a range of the
 * store, as an admin runs it, its time and RSS high-water mark, against the Parquet writer alone
 * on the same rows in this process. Adds nothing to the store, so it can run on any filled one.
 */

import { writeEventsParquet } from "../export/parquet.ts";
import { formatRfc3339Micros } from "../event/time.ts";
import { readLog } from "../store/log_reader.ts";
import { exportRange } from "./scale_events.ts";
import { round, sleep, spawnVigil } from "./scale_process.ts";
import type { BenchResult } from "./store_bench.ts";

/** Rows the export's reference, the Parquet writer alone, takes in memory at most. */
const REFERENCE_ROWS = 500_000;

/**
 * `vigil export` of a tenth of event time from its middle (`exportRange`: at most 1M events),
 * against the Parquet writer alone.
 */
export async function exportFigures(dir: string, data: string, n: number): Promise<BenchResult[]> {
  const { from, to } = exportRange(n);
  const outDir = `${dir}/bundle`;
  // An earlier run's bundle: `vigil export` wants a new or empty directory.
  await Deno.remove(outDir, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  const child = spawnVigil([
    "export",
    "--data",
    data,
    "--out",
    outDir,
    "--from",
    formatRfc3339Micros(from),
    "--to",
    formatRfc3339Micros(to),
  ]);
  const t = performance.now();
  let hwm = 0;
  let exited = false;
  const status = child.child.status.finally(() => (exited = true));
  while (!exited) {
    hwm = Math.max(hwm, (await child.rss()).hwmMib);
    await sleep(100);
  }
  const result = await status;
  const seconds = (performance.now() - t) / 1000;
  if (!result.success) throw new Error(`vigil export failed: ${await child.stderrText()}`);
  const manifest = JSON.parse(await Deno.readTextFile(`${outDir}/manifest.json`));
  const rows: number = manifest.range.events;
  // The reference: the same rows, already in memory, through the Parquet writer alone; at most
  // the first REFERENCE_ROWS of them (a 10% range of 100M events would not fit in memory, and
  // the writer's rate does not depend on the count past a few row groups).
  const first: number = manifest.range.first_seq;
  const events = [];
  const upTo = first + Math.min(rows, REFERENCE_ROWS);
  for await (const r of readLog(data, { fromSeq: first, toSeq: upTo })) {
    events.push(r.event);
  }
  const w0 = performance.now();
  await writeEventsParquet(events);
  const writerRate = events.length / ((performance.now() - w0) / 1000);
  const rate = rows / seconds;
  return [{
    bench: "scale.export_rate",
    value: Math.round(rate),
    unit: "rows/s",
    reference: {
      name: "Parquet writer alone, the same rows (at most 500k) in memory",
      value: Math.round(writerRate),
    },
    ratio: round(rate / writerRate),
    rows,
    seconds: round(seconds),
  }, { bench: "scale.export_rss_high_water", value: hwm, unit: "MiB", rows }];
}
