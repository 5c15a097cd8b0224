/**
 * `vigil bench scale --events N`: what a store of N events costs, measured the way a site lives
 * with it. N events of a realistic mix (`scale_events.ts`) go through the real store; then, each
 * in the process an admin would run, with the `vigil` task's permissions: `vigil reindex` builds
 * the search index, `vigil serve` starts on the full store (`scale_serve.ts`: time to `/healthz` 200, RSS after
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

import { Store } from "../store/store.ts";
import { scaleEvent } from "./scale_events.ts";
import { exportFigures } from "./scale_export.ts";
import { scriptChildArgs } from "./script_child.ts";
import { dirBytes, round, spawnVigil } from "./scale_process.ts";
import { serveFigures } from "./scale_serve.ts";
import type { BenchResult } from "./store_bench.ts";

const BATCH = 2_000;
const IN_FLIGHT = 4;

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
 * `fillOnly` stops after the fill; `exportOnly` measures the export alone; `serveOnly` the
 * restart's phases alone (and with `sources`, the intake from real sources), on the derived
 * state an earlier run built.
 */
export async function benchScale(
  opts: {
    events: number;
    dir: string;
    fillOnly?: boolean;
    /** Only the export phase (on a filled store): `vigil export` of a range and the writer alone. */
    exportOnly?: boolean;
    /**
     * Only the restart's phases (on a store measured before, its derived state kept): `serve`'s
     * start, memory under intake, searches and a bundle download; as often as wanted, to measure
     * a change of the code on a store too large to fill and index again. Its intake adds a few
     * thousand events each time, beside the store's N.
     */
    serveOnly?: boolean;
    /**
     * At most this long for the first start's background builds, for a store too large to build
     * its derived state inside a run: no `vigil reindex`; `serve` builds the index and detection's
     * state in the background, their rates are measured over the budget, and the restart after
     * resumes from what was saved (both are checkpointed as they go).
     */
    budgetS?: number;
    /**
     * With `budgetS`: build the whole index with `vigil reindex` first (timed), so that the
     * searches run on a whole index; the budget then goes to detection's state alone.
     */
    reindex?: boolean;
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

  const fill = await filled(opts.dir, data, n, {
    serveOnly: opts.serveOnly === true,
    exportOnly: opts.exportOnly === true,
  });
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
  if (opts.exportOnly === true) {
    // Export adds nothing to the store: it stays fit to be measured again.
    for (const r of await exportFigures(opts.dir, data, n)) emit(r);
    return out;
  }
  if (opts.serveOnly === true) {
    for (
      const r of (await serveFigures(opts.dir, data, n, undefined, { restartOnly: true })).lines
    ) {
      emit(r);
    }
    if (opts.sources !== undefined) {
      for (const r of await sourcesFigures(data, opts.sources.seconds)) emit(r);
    }
    return out;
  }
  await Deno.writeTextFile(
    `${opts.dir}/fill.json`,
    JSON.stringify({ ...fill, reused: undefined, measured: true }) + "\n",
  );

  const appendRate = n / fill.seconds;
  const json = fill.jsonBytes / n;
  const reindexFirst = opts.budgetS === undefined || opts.reindex === true;
  if (reindexFirst) {
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
  if (!reindexFirst && served.index !== undefined) {
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
  only: { serveOnly: boolean; exportOnly: boolean },
): Promise<FillFigures & { reused: boolean }> {
  const { serveOnly, exportOnly } = only;
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
    if (serveOnly) {
      if (prior.measured !== true) {
        throw new Error(`${kept}: --serve-only measures a store whose derived state a run built`);
      }
      return { ...prior, reused: true };
    }
    // An export reads the log alone and adds nothing: any filled store will do, its derived
    // state left as it is.
    if (exportOnly) return { ...prior, reused: true };
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
  if (serveOnly) {
    throw new Error(`${kept}: none; --serve-only measures a store that an earlier run filled`);
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
