/**
 * The `serve` phases of `vigil bench scale` (`scale_bench.ts`): a first start on a store whose
 * derived state was removed (until detection is current, or for at most a budget, with the
 * index's and detection's build rates; where the budget ran out, a restart that catches up the
 * rest), then a restart with current state: time to `/healthz` 200, the time and
 * memory of the start's background work (`scale_settle.ts`), then memory at rest, under intake
 * through the events API, while searching through it and while an auditor downloads a bundle
 * from the Management page (`scale_download.ts`: the same 100k events at every store size, and
 * the export's range), and search p95s.
 * Each `serve` is a child with the `vigil` task's permissions; memory is read from /proc.
 */

import { AccessStore, randomSecret } from "../access/mod.ts";
import { formatRfc3339Micros } from "../event/time.ts";
import { downloadFigures } from "./scale_download.ts";
import { exportRange, exportRows, scaleEvent } from "./scale_events.ts";
import { get, getBody, indexLag, storeEvents } from "./scale_http.ts";
import { type ChildVigil, round, sleep, spawnVigil, waitHealthy } from "./scale_process.ts";
import { SETTLE_BUDGET_S, type StartSettled, waitStartSettled } from "./scale_settle.ts";
import type { BenchResult } from "./store_bench.ts";

const SEARCHES = 60;
const INTAKE_SECONDS = 10;
/** Index lag above which the restart's searches are left out (they would scan the log). */
const SEARCH_MAX_LAG = 1_000_000;
/** Events of the download made at every store size. */
const SAME_DOWNLOAD_EVENTS = 100_000;

/** Start, memory under intake and while searching, and search latency of a real `serve`. */
export async function serveFigures(
  dir: string,
  data: string,
  n: number,
  budgetS: number | undefined,
  opts: { restartOnly?: boolean } = {},
): Promise<{ lines: BenchResult[]; index?: IndexProgress }> {
  const access = AccessStore.open(data);
  const stamp = Date.now();
  const { token } = access.tokens.create(`scale-bench-${stamp}`, ["ingest", "read"], "bench");
  // An auditor for the bundle download, with a password of its own for each run.
  const auditor = { name: `scale-auditor-${stamp}`, password: randomSecret() };
  try {
    await access.users.add(auditor.name, "auditor", auditor.password);
  } finally {
    access.close();
  }
  const config = `${dir}/vigil.toml`;
  await Deno.writeTextFile(
    config,
    [`data_dir = "${data}"`, "", "[web]", 'listen = "127.0.0.1:0"', ""].join("\n"),
  );
  const out: BenchResult[] = [];
  // The first start after a bulk fill builds detection's state from the whole log (in the
  // background, collecting meanwhile); it is measured, then stopped with its state saved, and
  // the figures below are of a restart — what an appliance does every time after the first.
  // `restartOnly`: the derived state an earlier run saved is kept, and no first start is made.
  const first = opts.restartOnly === true ? undefined : await firstStart(config, budgetS);
  if (first !== undefined) {
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
      ...(first.afterMib === undefined ? {} : { rss_after_catch_up_mib: first.afterMib }),
      note: "spawn to /healthz 200; detection then builds its state from the log in the background",
    });
    // A first start stopped at its budget left detection behind; the next start catches up the
    // rest. It is measured as what it is, and the phases below are of the restart after it,
    // with saved state that is current: what every restart is, at every store size.
    if (first.caughtUpS === undefined) out.push(await catchUpRestart(config, n));
  }
  const restart = await settledRestart(config);
  const { serve, base, settled } = restart;
  try {
    out.push({
      bench: "scale.serve_start",
      value: round(restart.startS),
      unit: "s",
      events: n,
      note: "restart: spawn to /healthz 200, data dir with N events and saved state",
    });
    // The restart's background work (detection and index catching up, then a full
    // verification) lasts longer the larger the store; the figures below are taken after it.
    out.push({
      bench: "scale.serve_start_settled",
      value: settled.seconds,
      unit: "s",
      events: n,
      rss_max_mib: settled.rssMaxMib,
      high_water_mib: restart.settledHwmMib,
      ...(settled.verifyS === undefined ? {} : { verify_s: settled.verifyS }),
      ...(settled.pending.length === 0 ? {} : { still_running: settled.pending.join(",") }),
      note: "/healthz 200 until detection and index are current and a full verification ran",
    });
    out.push({
      bench: "scale.serve_rss_after_start",
      value: restart.after.rssMib,
      unit: "MiB",
      high_water_mib: restart.after.hwmMib,
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
    // The same download at every store size (the export's range grows with it up to 1M events).
    if (exportRows(n) > SAME_DOWNLOAD_EVENTS) {
      const same = exportRange(n, SAME_DOWNLOAD_EVENTS);
      const note = `the same ${SAME_DOWNLOAD_EVENTS} events as at 1M (a tenth of it)`;
      out.push(...await downloadFigures(serve, base, auditor, same, note));
    }
    out.push(...await downloadFigures(serve, base, auditor, exportRange(n)));
    out.push({
      bench: "scale.serve_rss_high_water",
      value: (await serve.rss()).hwmMib,
      unit: "MiB",
    });
  } finally {
    await serve.stop();
  }
  return { lines: out, ...(first?.index === undefined ? {} : { index: first.index }) };
}

/**
 * A restart that finishes what a budgeted first start left: time to `/healthz` 200, then until
 * detection and the index are current and a full verification ran, the memory over it, and at
 * rest after it (the process that caught up, like the first start that caught up at 1M); then
 * stopped, its state saved.
 */
async function catchUpRestart(config: string, n: number): Promise<BenchResult> {
  const { serve, startS, settled, after } = await settledRestart(config);
  await serve.stop();
  return {
    bench: "scale.serve_restart_catching_up",
    value: settled.seconds,
    unit: "s",
    events: n,
    start_s: round(startS),
    rss_max_mib: settled.rssMaxMib,
    high_water_mib: after.hwmMib,
    rss_after_catch_up_mib: after.rssMib,
    ...(settled.verifyS === undefined ? {} : { verify_s: settled.verifyS }),
    ...(settled.pending.length === 0 ? {} : { still_running: settled.pending.join(",") }),
    note: "restart after a budgeted first start: /healthz 200 until detection (from where the " +
      "first start stopped) and index are current and a full verification ran; then stopped",
  };
}

/** A restart of `serve`, running, once its start's background work is waited out. */
interface SettledRestart {
  serve: ChildVigil;
  base: string;
  /** Spawn to `/healthz` 200, s. */
  startS: number;
  settled: StartSettled;
  /** The high-water as the wait ended, MiB. */
  settledHwmMib: number;
  /** Memory 3 s after the wait, at rest. */
  after: { rssMib: number; hwmMib: number };
}

/** Starts `serve`, waits for `/healthz` 200 and its background work, then 3 s; stops it on error. */
async function settledRestart(config: string): Promise<SettledRestart> {
  const started = performance.now();
  const serve = spawnVigil(["serve", "--config", config]);
  try {
    const base = await waitHealthy(serve);
    const startS = (performance.now() - started) / 1000;
    const settled = await waitStartSettled(serve, base, SETTLE_BUDGET_S);
    const settledHwmMib = (await serve.rss()).hwmMib;
    await sleep(3000);
    return { serve, base, startS, settled, settledHwmMib, after: await serve.rss() };
  } catch (error) {
    await serve.stop();
    throw error;
  }
}

/** How far `serve`'s background index build came during the first start. */
export interface IndexProgress {
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
  /** Resident memory 3 s after detection turned current, MiB (not with the budget run out). */
  afterMib?: number;
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
      const h = await getBody(`${base}/healthz`, (r) => r.json()) as {
        detection?: { state: string; behind: number };
      };
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
    await sleep(3000);
    const after = await serve.rss();
    return {
      startS,
      caughtUpS,
      hwmMib: Math.max(hwm, after.hwmMib),
      afterMib: after.rssMib,
      ...(index === undefined ? {} : { index }),
    };
  } finally {
    await serve.stop();
  }
}

function p95(ms: number[]): number {
  const s = [...ms].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]!);
}
