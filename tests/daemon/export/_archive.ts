/**
 * Checks on an export archive (a directory laid out like the bucket): DuckDB, the independent
 * reader, must see exactly the store's events — every seq once, the same values field by field
 * on a sample — and each run, put back together from the archive, must verify as a bundle.
 */

import { DuckDBInstance } from "@duckdb/node-api";
import { verifyBundle } from "../../../daemon/export/bundle_verify.ts";
import { parseManifest } from "../../../daemon/export/manifest.ts";
import { archiveKey, utcDate } from "../../../daemon/export/partition.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { assert, assertEquals } from "../../support/assert.ts";

type Row = Record<string, unknown>;

/** Runs `fn` with a query function on an in-memory DuckDB, closed afterwards. */
export async function withDuckDb(
  fn: (query: (sql: string) => Promise<Row[]>) => Promise<void>,
): Promise<void> {
  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  try {
    await fn(async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJson() as Row[]);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/**
 * DuckDB reads `archive` as one Hive-partitioned table holding `events` (by seq, from
 * `events[0].seq`), each once, with the same values on a sample of seqs.
 */
export async function assertArchiveHolds(archive: string, events: AuditEvent[]): Promise<void> {
  const table = `read_parquet('${archive}/date=*/*.parquet', hive_partitioning = true)`;
  const lo = events[0]!.seq, hi = events[events.length - 1]!.seq;
  await withDuckDb(async (query) => {
    const [counts] = await query(
      `SELECT count(*) AS n, count(DISTINCT seq) AS d, min(seq) AS lo, max(seq) AS hi FROM ${table}`,
    );
    assertEquals(counts, {
      n: String(events.length),
      d: String(events.length),
      lo: String(lo),
      hi: String(hi),
    });
    const step = Math.max(1, Math.floor(events.length / 9));
    const sample = events.filter((_, i) => i % step === 0 || i === events.length - 1);
    const rows = await query(
      `SELECT seq, epoch_us(ts) AS ts, epoch_us(ingest_ts) AS ingest_ts, source, kind, db, role, ` +
        `object, command, statement, params, context, date::VARCHAR AS date FROM ${table} ` +
        `WHERE seq IN (${sample.map((e) => e.seq)}) ORDER BY seq`,
    );
    assertEquals(rows.length, sample.length);
    rows.forEach((row, i) => {
      const ev = sample[i]!;
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
        date: utcDate(ev.ts),
      }, `seq ${ev.seq}`);
    });
  });
}

/** Names of the runs in an archive (`_vigil/exports/<run>/`), sorted. */
export async function archiveRuns(archive: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${archive}/_vigil/exports`)) out.push(e.name);
  return out.sort();
}

/** Copies one run out of the archive into `out` as a bundle and verifies it offline. */
export async function assertRunVerifies(archive: string, run: string, out: string): Promise<void> {
  const from = `${archive}/_vigil/exports/${run}`;
  await Deno.mkdir(out, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    await Deno.copyFile(`${from}/${e.name}`, `${out}/${e.name}`);
  }
  const manifest = parseManifest(await Deno.readFile(`${out}/manifest.json`));
  for (const f of manifest.files) {
    await Deno.mkdir(`${out}/${f.path.slice(0, f.path.lastIndexOf("/"))}`, { recursive: true });
    await Deno.copyFile(`${archive}/${archiveKey(f.path)}`, `${out}/${f.path}`);
  }
  const report = await verifyBundle(out);
  assert(report.ok, `run ${run}: ${report.problems.join("; ")}`);
}
