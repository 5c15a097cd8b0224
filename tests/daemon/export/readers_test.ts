/**
 * An archive every reader opens: a real bundle's `events/` directory and a real export target
 * (two runs of the exporter to a directory) read unchanged by DuckDB with `hive_partitioning` and
 * by pyarrow's dataset reader with Hive partitioning (the reader that refused the layout before
 * this one, which had `source=` folders over a `source` column: `Unable to merge: Field source
 * has incompatible types`), each seeing the store's rows: every seq once, the partition column
 * `date`, the file column `source`, and the same values on a sample. And the property that Trino
 * and Spark rely on too: no Hive key in a path is also a column of the files. Trino and Spark are
 * not in the suite: neither runs without packages that no registry reachable here serves.
 */

import { writeBundle } from "../../../daemon/export/bundle.ts";
import { Exporter } from "../../../daemon/export/exporter.ts";
import { utcDate } from "../../../daemon/export/partition.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";
import { withDuckDb } from "./_archive.ts";
import { PYARROW_PYTHON, readWithPyarrow } from "./_pyarrow.ts";
import { bundleEvent, EVENTS, filesUnder, makeStore, storedEvents } from "./_bundle_store.ts";

/** The store's view of the sampled seqs, in the shape both readers are compared in. */
function expected(
  events: AuditEvent[],
  sample: number[],
): { seq: number; source: string; role: string | null; ts: number; date: string }[] {
  return sample.map((seq) => {
    const ev = events.find((e) => e.seq === seq)!;
    return { seq, source: ev.source, role: ev.role ?? null, ts: ev.ts, date: utcDate(ev.ts) };
  });
}

function sampleOf(events: AuditEvent[]): number[] {
  const step = Math.max(1, Math.floor(events.length / 9));
  return events.filter((_, i) => i % step === 0 || i === events.length - 1).map((e) => e.seq);
}

/** A bundle of the whole store and a directory target after two exporter runs. */
async function exportBoth(dir: string): Promise<{ bundle: string; archive: string }> {
  const data = `${dir}/data`, archive = `${dir}/archive`;
  await makeStore(data);
  const exporter = new Exporter(data, [{
    name: "local",
    type: "dir",
    path: archive,
    intervalMs: 1e6,
  }]);
  await exporter.runNow();
  const store = await Store.open(data, { checkpointIntervalMs: 0, hashWorker: false });
  for (let i = EVENTS; i < EVENTS + 30; i++) {
    await store.append({ source: bundleEvent(i).source, events: [bundleEvent(i)] });
  }
  await store.close();
  await exporter.runNow();
  await writeBundle(data, `${dir}/bundle`);
  return { bundle: `${dir}/bundle/events`, archive };
}

Deno.test("no Hive key of an export path is also a column of its files", async () => {
  await withTempDir(async (dir) => {
    const { bundle, archive } = await exportBoth(dir);
    await withDuckDb(async (query) => {
      for (const path of [bundle, archive]) {
        const files = (await filesUnder(path)).filter((f) => f.endsWith(".parquet"));
        assert(files.length > 1, `${path}: several files`);
        // Nothing but the table under the path readers are pointed at (no manifests or keys
        // among the Parquet files, which pyarrow would try to read).
        assert(files.every((f) => !f.startsWith("_vigil/")), path);
        for (const file of files) {
          const keys = [...file.matchAll(/([^/=]+)=[^/]*\//g)].map((m) => m[1]!);
          assert(keys.length > 0, `${file}: a Hive key`);
          const columns = (await query(
            `SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet('${path}/${file}', ` +
              `hive_partitioning = false))`,
          )).map((r) => r.column_name);
          assert(columns.includes("source") && columns.includes("seq"), file);
          for (const k of keys) assert(!columns.includes(k), `${file}: key ${k} is also a column`);
        }
      }
    });
  });
});

Deno.test("DuckDB reads a bundle's events/ and an export target's top with hive_partitioning", async () => {
  await withTempDir(async (dir) => {
    const { bundle, archive } = await exportBoth(dir);
    const events = await storedEvents(`${dir}/data`);
    const sample = sampleOf(events);
    await withDuckDb(async (query) => {
      for (const path of [bundle, archive]) {
        const table = `read_parquet('${path}/**/*.parquet', hive_partitioning = true)`;
        const [c] = await query(
          `SELECT count(*) AS n, count(DISTINCT seq) AS d, min(seq) AS lo, max(seq) AS hi, ` +
            `typeof(any_value(date)) AS date_type, typeof(any_value(source)) AS source_type ` +
            `FROM ${table}`,
        );
        assertEquals(c, {
          n: String(events.length),
          d: String(events.length),
          lo: "0",
          hi: String(events.length - 1),
          date_type: "DATE",
          source_type: "VARCHAR",
        }, path);
        const rows = await query(
          `SELECT seq, source, role, epoch_us(ts) AS ts, date::VARCHAR AS date FROM ${table} ` +
            `WHERE seq IN (${sample}) ORDER BY seq`,
        );
        assertEquals(
          rows,
          expected(events, sample).map((r) => ({ ...r, seq: String(r.seq), ts: String(r.ts) })),
          path,
        );
      }
    });
  });
});

Deno.test("pyarrow's dataset reader with Hive partitioning reads a bundle's events/ and an export target", async () => {
  await withTempDir(async (dir) => {
    const { bundle, archive } = await exportBoth(dir);
    const events = await storedEvents(`${dir}/data`);
    const sample = sampleOf(events);
    for (const path of [bundle, archive]) {
      const got = await readWithPyarrow(path, sample);
      assertEquals(
        { rows: got.rows, distinct: got.distinct, lo: got.lo, hi: got.hi },
        { rows: events.length, distinct: events.length, lo: 0, hi: events.length - 1 },
        `${path} through ${PYARROW_PYTHON}`,
      );
      assertEquals(got.partitioning, ["date"], path);
      assertEquals(got.sample, expected(events, sample), path);
    }
  });
});
