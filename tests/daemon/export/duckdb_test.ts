/**
 * An independent reader: DuckDB (the engine auditors reach for) opens a bundle's Parquet files
 * as one Hive-partitioned table, with the store's row count, types and values.
 */

import { DuckDBInstance } from "@duckdb/node-api";
import { writeBundle } from "../../../daemon/export/bundle.ts";
import { utcDate } from "../../../daemon/export/partition.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";
import { EVENTS, makeStore, storedEvents } from "./_bundle_store.ts";

type Row = Record<string, unknown>;

async function withDuckDb(fn: (query: (sql: string) => Promise<Row[]>) => Promise<void>) {
  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  try {
    await fn(async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJson() as Row[]);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

async function exported(dir: string): Promise<string> {
  await makeStore(`${dir}/data`);
  await writeBundle(`${dir}/data`, `${dir}/out`);
  return `read_parquet('${dir}/out/**/*.parquet', hive_partitioning = true)`;
}

Deno.test("DuckDB reads a bundle as one table with the store's rows and types", async () => {
  await withTempDir(async (dir) => {
    const table = await exported(dir);
    await withDuckDb(async (query) => {
      const [counts] = await query(
        `SELECT count(*) AS n, count(DISTINCT seq) AS d, min(seq) AS lo, max(seq) AS hi FROM ${table}`,
      );
      assertEquals(counts, {
        n: String(EVENTS),
        d: String(EVENTS),
        lo: "0",
        hi: String(EVENTS - 1),
      });
      const types = new Map(
        (await query(`DESCRIBE SELECT * FROM ${table}`)).map((r) => [r.column_name, r.column_type]),
      );
      assertEquals(types.get("seq"), "BIGINT");
      assertEquals(types.get("ts"), "TIMESTAMP WITH TIME ZONE");
      assertEquals(types.get("ingest_ts"), "TIMESTAMP WITH TIME ZONE");
      assertEquals(types.get("params"), "VARCHAR[]");
      assertEquals(types.get("redacted"), "BOOLEAN");
      assertEquals(types.get("date"), "DATE");
      const [tz] = await query(`SELECT typeof(ts) AS t FROM ${table} LIMIT 1`);
      assertEquals(tz!.t, "TIMESTAMP WITH TIME ZONE");
    });
  });
});

Deno.test("DuckDB sees the same values as the store, field by field, on a sample", async () => {
  await withTempDir(async (dir) => {
    const table = await exported(dir);
    const events = await storedEvents(`${dir}/data`);
    const sample = [0, 1, 3, 4, 16, 17, 59, 60, 101, EVENTS - 1];
    await withDuckDb(async (query) => {
      const rows = await query(
        `SELECT seq, epoch_us(ts) AS ts, epoch_us(ingest_ts) AS ingest_ts, source, kind, db, ` +
          `role, object, command, statement, params, context, token, date::VARCHAR AS date ` +
          `FROM ${table} WHERE seq IN (${sample}) ORDER BY seq`,
      );
      assertEquals(rows.length, sample.length);
      rows.forEach((row, i) => {
        const ev = events[sample[i]!]!;
        assertEquals(row, {
          seq: String(ev.seq),
          ts: String(ev.ts),
          ingest_ts: String(ev.ingest_ts),
          source: ev.source,
          kind: ev.kind,
          db: ev.db ?? null,
          role: ev.role ?? null,
          object: ev.object ?? null,
          command: ev.command ?? null,
          statement: ev.statement ?? null,
          params: ev.params ?? null,
          context: ev.context ? JSON.stringify(ev.context) : null,
          token: ev.token ?? null,
          date: utcDate(ev.ts),
        }, `seq ${ev.seq}`);
      });
    });
  });
});

Deno.test("DuckDB sees ZSTD pages, statistics, dictionaries and the vigil metadata", async () => {
  await withTempDir(async (dir) => {
    await exported(dir);
    const files = `'${dir}/out/**/*.parquet'`;
    await withDuckDb(async (query) => {
      const cols = await query(
        `SELECT DISTINCT path_in_schema AS col, compression, encodings, stats_min_value IS NOT ` +
          `NULL AS has_min FROM parquet_metadata(${files}) ` +
          `WHERE path_in_schema IN ('seq', 'ts', 'role')`,
      );
      for (const c of cols) {
        assertEquals(c.compression, "ZSTD", String(c.col));
        assert(c.has_min, `statistics on ${c.col}`);
      }
      const enc = (col: string) => String(cols.find((c) => c.col === col)?.encodings);
      assert(enc("role").includes("RLE_DICTIONARY"), enc("role"));
      assert(enc("seq").includes("DELTA_BINARY_PACKED"), enc("seq"));
      const meta = await query(
        `SELECT decode(value) AS v FROM parquet_kv_metadata(${files}) WHERE decode(key) = 'vigil'`,
      );
      assert(meta.length > 1);
      for (const m of meta) {
        const v = JSON.parse(String(m.v));
        assertEquals(v.merkle_leaves, [0, EVENTS]);
        assertEquals(v.checkpoint.size, EVENTS);
      }
    });
  });
});
