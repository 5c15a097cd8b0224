/**
 * `vigil bench scale --events N`: what a store of N events costs, measured the way a site lives
 * with it. N events of a realistic mix (`scale_events.ts`) go through the real store; then, each
 * in the process an admin would run, with the `vigil` task's permissions: `vigil reindex` builds
 * the search index, `vigil serve` starts on the full store (time to `/healthz` 200, RSS after
 * start, under intake through the events API and while searching through it, and its high-water
 * mark), and `vigil export` writes a bundle of a range. Every figure is a JSON line with a
 * reference measured in the same run: the disk alone for the fill, the store's own append rate
 * for the index build, the canonical JSON bytes for the space on disk, the Parquet writer alone
 * (in this process, on the same events) for the export.
 *
 * With `sources`, `serve` is also measured under intake from a real WAL and pgAudit source
 * (`scripts/bench_scale_sources.ts`).
 *
 * It needs a source checkout (it starts `daemon/main.ts`) and Linux's /proc for memory.
 */

import { AccessStore } from "../access/mod.ts";
import { writeEventsParquet } from "../export/parquet.ts";
import { formatRfc3339Micros } from "../event/time.ts";
import { readLog } from "../store/log_reader.ts";
import { Store } from "../store/store.ts";
import { scaleEvent } from "./scale_events.ts";
import { scriptChildArgs } from "./script_child.ts";
import { type ChildVigil, dirBytes, spawnVigil, waitHealthy } from "./scale_process.ts";
import type { BenchResult } from "./store_bench.ts";

const BATCH = 2_000;
const IN_FLIGHT = 4;
const SEARCHES = 60;
const INTAKE_SECONDS = 10;
/** Index lag above which the restart's searches are left out (they would scan the log). */
const SEARCH_MAX_LAG = 1_000_000;
/** Rows of the exported range at most (a tenth of the events, up to this). */
const EXPORT_MAX_ROWS = 1_000_000;
/** Rows the export's reference, the Parquet writer alone, takes in memory at most. */
const REFERENCE_ROWS = 500_000;

/** What the fill measured, kept in `fill.json` so that a large store is filled once. */
interface FillFigures {
  events: number;
  seconds: number;
  jsonBytes: number;
  diskAlone: number;
  /** Set once a run has measured this store: its intake added events, so it is not N any more. */
  measured?: boolean;
}

/**
 * Runs the scale benchmark in `dir`; returns its lines. A `dir` that holds the store and
 * `fill.json` of an earlier run with the same `events` is measured again without filling it
 * (its derived files are removed first, so the index build and the first start are whole);
 * `fillOnly` stops after the fill.
 */
export async function benchScale(
  opts: {
    events: number;
    dir: string;
    fillOnly?: boolean;
    /**
     * At most this long for the first start's background builds, for a store too large to build
     * its derived state inside a run: no `vigil reindex`; `serve` builds the index and detection's
     * state in the background, their rates are measured over the budget, and the restart after
     * resumes from what was saved (both are checkpointed as they go).
     */
    budgetS?: number;
    /** Also measure `serve` under intake from real WAL and pgAudit sources (a source checkout). */
    sources?: { seconds: number };
    log?: (r: BenchResult) => void;
  },
): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  const emit = (r: BenchResult): void => {
    out.push(r);
    opts.log?.(r);
  };
  const n = opts.events;
  const data = `${opts.dir}/data`;

  const fill = await filled(opts.dir, data, n);
  const disk = fill.diskAlone;
  emit({
    bench: "scale.fill_rate",
    value: Math.round(n / fill.seconds),
    unit: "events/s",
    reference: { name: "canonical JSON written and fdatasynced alone", value: disk },
    ratio: round(n / fill.seconds / disk),
    events: n,
    seconds: round(fill.seconds),
    ...(fill.reused ? { note: "measured when this store was filled (fill.json)" } : {}),
  });
  if (opts.fillOnly === true) return out;
  await Deno.writeTextFile(
    `${opts.dir}/fill.json`,
    JSON.stringify({ ...fill, reused: undefined, measured: true }) + "\n",
  );

  const appendRate = n / fill.seconds;
  const json = fill.jsonBytes / n;
  if (opts.budgetS === undefined) {
    const reindex = await timed(() => runVigil(["reindex", "--data", data]));
    emit({
      bench: "scale.index_build_rate",
      value: Math.round(n / reindex.seconds),
      unit: "events/s",
      reference: { name: "store append rate", value: Math.round(appendRate) },
      ratio: round(n / reindex.seconds / appendRate),
      seconds: round(reindex.seconds),
    });
    for (const r of await diskFigures(data, n, n, json)) emit(r);
  }

  const served = await serveFigures(opts.dir, data, n, opts.budgetS);
  if (opts.budgetS !== undefined && served.index !== undefined) {
    const ix = served.index;
    emit({
      bench: "scale.index_build_rate",
      value: Math.round(ix.built / ix.seconds),
      unit: "events/s",
      reference: { name: "store append rate", value: Math.round(appendRate) },
      ratio: round(ix.built / ix.seconds / appendRate),
      seconds: round(ix.seconds),
      events_indexed: ix.indexed,
      note: "serve's background build during the first start, over the budget",
    });
    for (const r of await diskFigures(data, n, ix.indexed, json)) emit(r);
  }
  for (const r of served.lines) emit(r);
  if (opts.sources !== undefined) {
    for (const r of await sourcesFigures(data, opts.sources.seconds)) emit(r);
  }
  for (const r of await exportFigures(opts.dir, data, n)) emit(r);
  return out;
}

/** The store of `n` events in `data`: filled now, or kept from an earlier run of this `dir`. */
async function filled(
  dir: string,
  data: string,
  n: number,
): Promise<FillFigures & { reused: boolean }> {
  const kept = `${dir}/fill.json`;
  let prior: FillFigures | undefined;
  try {
    prior = JSON.parse(await Deno.readTextFile(kept)) as FillFigures;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw new Error(`${kept}: ${e}`);
  }
  if (prior !== undefined) {
    if (prior.events !== n) {
      throw new Error(`${kept}: the store there holds ${prior.events} events, not ${n}`);
    }
    if (prior.measured === true) {
      throw new Error(
        `${kept}: this store was measured before, and that run's intake added events; fill anew`,
      );
    }
    // What earlier measuring runs derived: built again, so every figure is of a whole build.
    for await (const e of Deno.readDir(data)) {
      if (/^(index\.sqlite.*|alerts\.db.*|detect-state\.jsonl.*)$/.test(e.name)) {
        await Deno.remove(`${data}/${e.name}`, { recursive: true });
      }
    }
    return { ...prior, reused: true };
  }
  const diskRate = await diskAlone(`${dir}/disk-alone`, Math.min(n, 500_000));
  const fill = await fillStore(data, n);
  const figures: FillFigures = { events: n, ...fill, diskAlone: diskRate };
  await Deno.writeTextFile(kept, JSON.stringify(figures) + "\n");
  return { ...figures, reused: false };
}

/**
 * Bytes on disk per event of each part and in all, against the canonical JSON; the index's over
 * the `indexed` events it holds (all `n` after a reindex; fewer when built within a budget).
 */
async function diskFigures(
  data: string,
  n: number,
  indexed: number,
  json: number,
): Promise<BenchResult[]> {
  const bytes = {
    segments: await dirBytes(`${data}/segments`),
    merkle: await dirBytes(`${data}/merkle`),
    index: await fileBytes(`${data}/index.sqlite`) + await fileBytes(`${data}/index.sqlite-wal`),
  };
  const per = { segments: bytes.segments / n, merkle: bytes.merkle / n, index: 0 };
  per.index = indexed > 0 ? bytes.index / indexed : 0;
  const out: BenchResult[] = [];
  for (const [part, b] of Object.entries(per)) {
    out.push({
      bench: `scale.disk_${part}`,
      value: round(b),
      unit: "bytes/event",
      reference: { name: "canonical JSON bytes/event", value: round(json) },
      ratio: round(b / json),
      ...(part === "index" && indexed < n ? { events_indexed: indexed } : {}),
    });
  }
  const total = per.segments + per.merkle + per.index;
  out.push({
    bench: "scale.disk_total",
    value: round(total),
    unit: "bytes/event",
    reference: { name: "canonical JSON bytes/event", value: round(json) },
    ratio: round(total / json),
  });
  return out;
}

/** Events/s of writing the canonical JSON of `n` events to a file, one fdatasync a batch. */
async function diskAlone(path: string, n: number): Promise<number> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  const t = performance.now();
  try {
    for (let i = 0; i < n; i += BATCH) {
      let text = "";
      for (let j = i; j < Math.min(n, i + BATCH); j++) text += JSON.stringify(scaleEvent(j, n));
      const bytes = enc.encode(text);
      for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
      await file.syncData();
    }
  } finally {
    file.close();
  }
  const rate = n / ((performance.now() - t) / 1000);
  await Deno.remove(path);
  return Math.round(rate);
}

/** Appends `n` events through the store, several batches in flight. */
async function fillStore(data: string, n: number): Promise<{ seconds: number; jsonBytes: number }> {
  // As `serve` and `ingest` open it: sealed segments are compressed in the background.
  const store = await Store.open(data, { checkpointIntervalMs: 60_000, compressSealed: true });
  let jsonBytes = 0;
  store.onDurable((records) => {
    for (const r of records) jsonBytes += r.json.length;
  });
  const t = performance.now();
  try {
    const inflight = new Set<Promise<unknown>>();
    for (let i = 0; i < n; i += BATCH) {
      const events = [];
      for (let j = i; j < Math.min(n, i + BATCH); j++) events.push(scaleEvent(j, n));
      const p = store.append({ source: "bench", events });
      inflight.add(p);
      p.finally(() => inflight.delete(p));
      if (inflight.size >= IN_FLIGHT) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  } finally {
    await store.close();
  }
  return { seconds: (performance.now() - t) / 1000, jsonBytes };
}

/** Start, memory under intake and while searching, and search latency of a real `serve`. */
async function serveFigures(
  dir: string,
  data: string,
  n: number,
  budgetS: number | undefined,
): Promise<{ lines: BenchResult[]; index?: IndexProgress }> {
  const access = AccessStore.open(data);
  const { token } = access.tokens.create(`scale-bench-${Date.now()}`, ["ingest", "read"], "bench");
  access.close();
  const config = `${dir}/vigil.toml`;
  await Deno.writeTextFile(
    config,
    [`data_dir = "${data}"`, "", "[web]", 'listen = "127.0.0.1:0"', ""].join("\n"),
  );
  const out: BenchResult[] = [];
  // The first start after a bulk fill builds detection's state from the whole log (in the
  // background, collecting meanwhile); it is measured, then stopped with its state saved, and
  // the figures below are of a restart — what an appliance does every time after the first.
  const first = await firstStart(config, budgetS);
  out.push({
    bench: "scale.serve_first_start",
    value: first.startS,
    unit: "s",
    events: n,
    ...(first.caughtUpS === undefined
      ? {
        detection_events_per_s: first.detectionRate,
        detection_behind_at_budget: first.behind,
        budget_s: budgetS,
      }
      : { detection_caught_up_s: first.caughtUpS }),
    rss_high_water_mib: first.hwmMib,
    note: "spawn to /healthz 200; detection then builds its state from the log in the background",
  });
  const started = performance.now();
  const serve: ChildVigil = spawnVigil(["serve", "--config", config]);
  try {
    const base = await waitHealthy(serve);
    const startS = (performance.now() - started) / 1000;
    await sleep(3000);
    const afterStart = await serve.rss();
    out.push({
      bench: "scale.serve_start",
      value: round(startS),
      unit: "s",
      events: n,
      note: "restart: spawn to /healthz 200, data dir with N events and saved state",
    });
    out.push({
      bench: "scale.serve_rss_after_start",
      value: afterStart.rssMib,
      unit: "MiB",
      high_water_mib: afterStart.hwmMib,
    });

    // Intake: the events API at a steady rate, a batch of 500 every 50 ms.
    const auth = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
    const intakeEnd = performance.now() + INTAKE_SECONDS * 1000;
    let posted = 0;
    let intakeRss = 0;
    // After the stored events in event time, so that the export's range below holds none.
    const intakeT0 = scaleEvent(n - 1, n).ts + 86_400_000_000;
    for (let b = 0; performance.now() < intakeEnd; b++) {
      // Application events as a token may post them: `app` kind, the token's name as source.
      const events = Array.from({ length: 500 }, (_, k) => {
        const ev = scaleEvent(b * 500 + k, n);
        return {
          ts: formatRfc3339Micros(intakeT0 + b * 500 + k),
          kind: "app",
          command: "PAYMENT_APPROVED",
          object: ev.object ?? "public.payments",
          app_user: `u${(b * 500 + k) % 311}`,
          context: { amount: String((b * 500 + k) % 10_000), currency: "EUR" },
        };
      });
      const r = await fetch(`${base}/api/v1/events`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify(events),
      });
      if (r.status >= 300) throw new Error(`intake POST answered ${r.status}: ${await r.text()}`);
      await r.body?.cancel();
      posted += events.length;
      intakeRss = Math.max(intakeRss, (await serve.rss()).rssMib);
      await sleep(50);
    }
    out.push({
      bench: "scale.serve_rss_under_intake",
      value: intakeRss,
      unit: "MiB",
      events_posted: posted,
      seconds: INTAKE_SECONDS,
    });

    // Searches through the API: a role over one day, full text, and both.
    const day = (k: number): string => {
      const t0 = 1_767_225_600_000_000 + ((k * 11) % 120) * 86_400_000_000;
      return `from=${encodeURIComponent(formatRfc3339Micros(t0))}&to=${
        encodeURIComponent(formatRfc3339Micros(t0 + 86_400_000_000))
      }`;
    };
    const workloads: [string, (k: number) => string][] = [
      ["role_day", (k) => `role=user${6 + (k % 42)}&${day(k)}`],
      ["text", (k) => `text=${["ledger", "settled", "hr.salaries", "note_42"][k % 4]}`],
      ["text_role_day", (k) => `text=settled&role=user${6 + (k % 42)}&${day(k)}`],
    ];
    let searchRss = 0;
    // With the index far behind (a budgeted first start), a search scans the log past the index's
    // end: minutes a query on a large store, which says nothing of search on an index that has
    // caught up. Then the searches are left out, and the line says why.
    const lag = await indexLag(base);
    if (lag > SEARCH_MAX_LAG) {
      out.push({
        bench: "scale.search_skipped",
        value: lag,
        unit: "events the index lacks",
        note: "the index was still being built: searches would scan the log past its end",
      });
    }
    for (const [name, query] of lag > SEARCH_MAX_LAG ? [] : workloads) {
      const ms: number[] = [];
      for (let k = 0; k < SEARCHES; k++) {
        const t = performance.now();
        const r = await get(`${base}/api/v1/events?${query(k)}&limit=50`, { headers: auth });
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`search ${name} answered ${r.status}`);
        ms.push(performance.now() - t);
        searchRss = Math.max(searchRss, (await serve.rss()).rssMib);
      }
      out.push({
        bench: `scale.search_p95_${name}`,
        value: p95(ms),
        unit: "ms",
        queries: SEARCHES,
      });
    }
    if (searchRss > 0) {
      out.push({ bench: "scale.serve_rss_while_searching", value: searchRss, unit: "MiB" });
    }
    out.push({
      bench: "scale.serve_rss_high_water",
      value: (await serve.rss()).hwmMib,
      unit: "MiB",
    });
  } finally {
    await serve.stop();
  }
  return { lines: out, ...(first.index === undefined ? {} : { index: first.index }) };
}

/** How far `serve`'s background index build came during the first start. */
interface IndexProgress {
  /** Events it indexed over `seconds` (from the spawn until it caught up, or the budget's end). */
  built: number;
  seconds: number;
  /** Events the index holds at the end. */
  indexed: number;
}

/**
 * Starts `serve` on a freshly filled store, waits until detection has taken in every event (or
 * `budgetS` has passed), and stops it (which saves detection's state): start time, catch-up time
 * or rate, memory high-water, and with a budget how fast the index was built meanwhile.
 */
async function firstStart(config: string, budgetS: number | undefined): Promise<{
  startS: number;
  caughtUpS?: number;
  detectionRate?: number;
  behind?: number;
  hwmMib: number;
  index?: IndexProgress;
}> {
  const t = performance.now();
  const serve = spawnVigil(["serve", "--config", config]);
  try {
    const base = await waitHealthy(serve);
    const startS = round((performance.now() - t) / 1000);
    const t0 = performance.now();
    let hwm = 0;
    let behind0: number | undefined;
    let behind = 0;
    // The index starts empty (its files were removed), so what it holds is what it built.
    let indexedAt: number | undefined;
    const indexProgress = async (): Promise<IndexProgress | undefined> => {
      if (budgetS === undefined) return undefined;
      const lag = await indexLag(base);
      const indexed = (await storeEvents(base)) - lag;
      const seconds = ((indexedAt ?? performance.now()) - t) / 1000;
      return { built: indexed, seconds, indexed };
    };
    for (;;) {
      const r = await get(`${base}/healthz`);
      const h = await r.json() as { detection?: { state: string; behind: number } };
      hwm = Math.max(hwm, (await serve.rss()).hwmMib);
      if (budgetS !== undefined && indexedAt === undefined && (await indexLag(base)) === 0) {
        indexedAt = performance.now();
      }
      if (h.detection === undefined) break;
      if (h.detection.state === "failed") throw new Error("detection failed on the first start");
      behind = h.detection.behind;
      behind0 ??= behind;
      if (h.detection.behind === 0 && h.detection.state === "running") break;
      if (budgetS !== undefined && performance.now() - t0 > budgetS * 1000) {
        const seconds = (performance.now() - t0) / 1000;
        return {
          startS,
          detectionRate: Math.round((behind0 - behind) / seconds),
          behind,
          hwmMib: hwm,
          index: (await indexProgress())!,
        };
      }
      await sleep(500);
    }
    const caughtUpS = round((performance.now() - t) / 1000);
    const index = await indexProgress();
    return { startS, caughtUpS, hwmMib: hwm, ...(index === undefined ? {} : { index }) };
  } finally {
    await serve.stop();
  }
}

/** A gauge of `serve`'s `/metrics`. */
async function gauge(base: string, name: string): Promise<number> {
  const text = await (await get(`${base}/metrics`)).text();
  const v = new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1];
  if (v === undefined) throw new Error(`/metrics has no ${name}`);
  return Number(v);
}

function indexLag(base: string): Promise<number> {
  return gauge(base, "vigil_index_lag_events");
}

function storeEvents(base: string): Promise<number> {
  return gauge(base, "vigil_store_events");
}

/**
 * `vigil export` of a tenth of event time from its middle (at most {@link EXPORT_MAX_ROWS} events),
 * against the Parquet writer alone.
 */
async function exportFigures(dir: string, data: string, n: number): Promise<BenchResult[]> {
  const first45 = Math.floor(n * 0.45);
  const from = scaleEvent(first45, n).ts;
  const to = scaleEvent(first45 + Math.min(Math.floor(n * 0.1), EXPORT_MAX_ROWS), n).ts;
  const outDir = `${dir}/bundle`;
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

/**
 * `serve` on this store under intake from a WAL and a pgAudit source on a throwaway PostgreSQL
 * under pgbench (`scripts/bench_scale_sources.ts`, a child with the permissions starting
 * PostgreSQL needs, which the appliance's own do not grant).
 */
async function sourcesFigures(data: string, seconds: number): Promise<BenchResult[]> {
  const script = new URL("../../scripts/bench_scale_sources.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: scriptChildArgs(script, ["--data", data, "--seconds", String(seconds)]),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${script} failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
  }
  return text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

/**
 * A GET, tried once more when the connection fails: a kept-alive connection that the server
 * closes as idle just as a request goes out fails that request (a race of HTTP/1.1 itself, which
 * clients answer by retrying an idempotent request); a second failure is the bench's error.
 */
async function get(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    return await fetch(url, init);
  }
}

async function runVigil(args: string[]): Promise<void> {
  const child = spawnVigil(args);
  const status = await child.child.status;
  if (!status.success) {
    throw new Error(`vigil ${args[0]} failed (${status.code}): ${await child.stderrText()}`);
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - t) / 1000 };
}

async function fileBytes(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

function p95(ms: number[]): number {
  const s = [...ms].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]!);
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
