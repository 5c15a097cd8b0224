/**
 * Measures exports by hand (no assertions; CI does not run it): first a store of N events
 * exported whole and for a time range (`vigil export`'s `writeBundle`) and verified
 * (`verify-bundle`), each with its peak RSS; then the Parquet write rate of `writeEventsParquet`
 * for N events in memory (with RSS; then on one thread, and the part of that spent building
 * Arrow columns) against DuckDB's `COPY … TO … (FORMAT parquet, COMPRESSION zstd)` of the same
 * rows in the same run, with DuckDB's default threads and with one; last, the export's rate
 * against the Parquet writer alone. Prints one JSON object a line.
 *
 *   deno task bench export [--events N]    (or: deno run -A tests/daemon/export/bench_export.ts [N])
 */

import { DuckDBInstance } from "@duckdb/node-api";
import { BufferPool, eventsToArrowTable } from "../../../daemon/event/arrow.ts";
import { canonicalEvent, canonicalJson } from "../../../daemon/event/canonical.ts";
import type { AuditEvent, NewEvent } from "../../../daemon/event/model.ts";
import { writeBundle } from "../../../daemon/export/bundle.ts";
import { verifyBundle } from "../../../daemon/export/bundle_verify.ts";
import { ROW_GROUP_ROWS, writeEventsParquet } from "../../../daemon/export/parquet.ts";
import { Store } from "../../../daemon/store/store.ts";

const N = Number(Deno.args[0] ?? 1_000_000);
const T0 = Date.UTC(2026, 0, 1) * 1000;
const ROLES = ["alice", "bob", "app_billing", "etl", "postgres"];
const TABLES = ["customers", "invoices", "payments", "ledger", "audit_trail", "sessions"];

/** A plausible mix: pgAudit statements, WAL row changes with row images, some sessions. */
function benchEvent(i: number): NewEvent {
  const table = TABLES[i % TABLES.length]!;
  const common = {
    ts: T0 + i * 1_000 + (i % 13) * 7,
    source: i % 3 === 0 ? "billing-wal" : "billing-log",
    db: "billing",
    schema: "public",
    object: `public.${table}`,
    object_type: "TABLE",
    role: ROLES[i % ROLES.length]!,
    client_addr: `10.0.${(i >> 8) & 255}.${i & 255}`,
    application_name: i % 2 ? "psql" : "billing-api",
    session_id: `6630${(i >> 6).toString(16)}.${(i % 977).toString(16)}`,
    pid: 10_000 + (i >> 6) % 5000,
  };
  if (i % 3 === 0) {
    return {
      ...common,
      kind: "row_change",
      command: "UPDATE",
      xid: 700_000 + (i >> 2),
      old_row: { id: String(i), balance: String((i * 37) % 10_000), status: "open" },
      new_row: { id: String(i), balance: String((i * 41) % 10_000), status: "paid" },
      context: { user: `u${i % 211}`, reason: `ticket #${i % 5000}` },
    };
  }
  return {
    ...common,
    kind: "object",
    class: i % 2 ? "READ" : "WRITE",
    command: i % 2 ? "SELECT" : "UPDATE",
    audit_type: "SESSION",
    statement_id: i >> 3,
    substatement_id: 1,
    statement: `SELECT id, balance FROM public.${table} WHERE id = $1 AND status = 'open'`,
    params: [String(i)],
  };
}

function line(bench: string, value: number, unit: string, extra: Record<string, unknown> = {}) {
  console.log(JSON.stringify({ bench, value: Math.round(value * 100) / 100, unit, ...extra }));
}

const MIB = 2 ** 20;

/** Samples this process's RSS (Workers included) while `run` runs; the peak, MiB. */
async function peakRss<T>(run: () => Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 20);
  try {
    const result = await run();
    return { result, peak: Math.round(Math.max(peak, Deno.memoryUsage().rss) / MIB) };
  } finally {
    clearInterval(timer);
  }
}

async function parquetVersusDuckDb(dir: string): Promise<number> {
  const events: AuditEvent[] = [];
  for (let i = 0; i < N; i++) events.push(canonicalEvent(benchEvent(i), i, T0 + i * 1_000 + 5));
  await writeEventsParquet(events.slice(0, 10_000)); // load the Wasm and warm up
  const before = Math.round(Deno.memoryUsage().rss / MIB);
  // As exports write: a file of more than one row group is encoded on a Worker while this
  // thread builds the next row group's columns.
  const t0 = performance.now();
  const { result: bytes, peak } = await peakRss(() => writeEventsParquet(events));
  const s = (performance.now() - t0) / 1000;
  await Deno.writeFile(`${dir}/vigil.parquet`, bytes);
  let json = 0;
  for (const ev of events) json += canonicalJson(ev).length;
  line("parquet_write_rows", N / s, "rows/s", {
    seconds: s,
    bytes: bytes.length,
    rss_mib_before: before,
    rss_mib_peak: peak,
  });
  line("parquet_write_mb", json / 1e6 / s, "MB/s of canonical JSON in", {
    output_mb_per_s: bytes.length / 1e6 / s,
    json_bytes: json,
  });
  // The same file on this thread alone, and the share of that spent building Arrow columns
  // from event objects, one table per row group as the writer builds them.
  const t1 = performance.now();
  const one = await peakRss(() => writeEventsParquet(events, undefined, { worker: false }));
  const s1 = (performance.now() - t1) / 1000;
  const same = one.result;
  line("parquet_write_rows_one_thread", N / s1, "rows/s", {
    seconds: s1,
    rss_mib_peak: one.peak,
    same_bytes: same.length === bytes.length && same.every((b, i) => b === bytes[i]),
  });
  const t2 = performance.now();
  const pool = new BufferPool();
  for (let i = 0; i < N; i += ROW_GROUP_ROWS) {
    eventsToArrowTable(events.slice(i, i + ROW_GROUP_ROWS), pool);
  }
  const as = (performance.now() - t2) / 1000;
  line("arrow_build_rows", N / as, "rows/s", { seconds: as, share_of_one_thread: as / s1 });
  events.length = 0;

  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  await conn.run(`CREATE TABLE t AS SELECT * FROM read_parquet('${dir}/vigil.parquet')`);
  const threadsReader = await conn.runAndReadAll(`SELECT current_setting('threads')`);
  const defaultThreads = Number(threadsReader.getRows()[0]![0]);
  // DuckDB's default (a thread per core), then one thread.
  for (const threads of [defaultThreads, 1]) {
    await conn.run(`SET threads = ${threads}`);
    const t3 = performance.now();
    await conn.run(
      `COPY (SELECT * FROM t ORDER BY seq) TO '${dir}/duck${threads}.parquet' ` +
        `(FORMAT parquet, COMPRESSION zstd)`,
    );
    const ds = (performance.now() - t3) / 1000;
    const size = (await Deno.stat(`${dir}/duck${threads}.parquet`)).size;
    line(`duckdb_copy_rows_threads${threads}`, N / ds, "rows/s", {
      seconds: ds,
      bytes: size,
      threads,
      default_threads: threads === defaultThreads,
      vigil_speed_ratio: (N / s) / (N / ds),
      vigil_one_thread_speed_ratio: (N / s1) / (N / ds),
      vigil_size_ratio: bytes.length / size,
    });
  }
  conn.closeSync();
  instance.closeSync();
  return N / s;
}

/** `peakRss` with the RSS before, MiB: what the export itself reached over the store's fill. */
async function peakRssOf<T>(run: () => Promise<T>): Promise<
  { result: T; peak: number; before: number }
> {
  const before = Math.round(Deno.memoryUsage().rss / MIB);
  return { ...await peakRss(run), before };
}

/**
 * A store of N events through the real store, then, each with its own peak RSS: `vigil export`
 * of the whole log, of a range (the middle half of event time: every segment is read to find
 * the range), and `vigil verify-bundle` of the whole-log bundle. Run before the Parquet-alone
 * part, whose N events in memory would otherwise be the RSS measured.
 */
async function bundleRates(dir: string): Promise<{ whole: number; range: number }> {
  const store = await Store.open(`${dir}/data`, { checkpointIntervalMs: 0 });
  const batch = 2000;
  for (let i = 0; i < N; i += batch) {
    const events = Array.from({ length: Math.min(batch, N - i) }, (_, k) => benchEvent(i + k));
    await store.append({ source: "bench", events });
    if (i % 250_000 === 0) await store.checkpoint();
  }
  await store.close();
  const t0 = performance.now();
  const whole = await peakRssOf(() => writeBundle(`${dir}/data`, `${dir}/bundle`));
  const es = (performance.now() - t0) / 1000;
  const summary = whole.result;
  line("export_bundle_rows", summary.events / es, "rows/s", {
    seconds: es,
    files: summary.files,
    bytes: summary.bytes,
    rss_mib_before: whole.before,
    rss_mib_peak: whole.peak,
  });
  // The middle half of the events' times: the range is found by reading every event's time.
  const from = T0 + Math.floor(N / 4) * 1_000, to = T0 + Math.floor((3 * N) / 4) * 1_000;
  const t1 = performance.now();
  const ranged = await peakRssOf(() => writeBundle(`${dir}/data`, `${dir}/range`, { from, to }));
  const rs = (performance.now() - t1) / 1000;
  line("export_range_rows", ranged.result.events / rs, "rows/s", {
    seconds: rs,
    events: ranged.result.events,
    rss_mib_before: ranged.before,
    rss_mib_peak: ranged.peak,
  });
  await Deno.remove(`${dir}/range`, { recursive: true });
  const t2 = performance.now();
  const verified = await peakRssOf(() => verifyBundle(`${dir}/bundle`));
  const vs = (performance.now() - t2) / 1000;
  line("verify_bundle_rows", summary.events / vs, "rows/s", {
    seconds: vs,
    ok: verified.result.ok,
    rss_mib_peak: verified.peak,
  });
  await Deno.remove(`${dir}/bundle`, { recursive: true });
  await Deno.remove(`${dir}/data`, { recursive: true });
  return { whole: summary.events / es, range: ranged.result.events / rs };
}

const dir = await Deno.makeTempDir({ prefix: "vigil-bench-export-" });
try {
  const exported = await bundleRates(dir);
  const alone = await parquetVersusDuckDb(dir);
  // The yardstick: an export against the Parquet writer alone on the same events.
  const reference = { name: "parquet_write_rows", value: Math.round(alone) };
  line("export_bundle_rows", exported.whole, "rows/s", {
    reference,
    ratio: Math.round((exported.whole / alone) * 100) / 100,
  });
  line("export_range_rows", exported.range, "rows/s", {
    reference,
    ratio: Math.round((exported.range / alone) * 100) / 100,
  });
} finally {
  await Deno.remove(dir, { recursive: true });
}
