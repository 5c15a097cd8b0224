/**
 * The background work of a `serve` restart, waited out by `vigil bench scale` (`scale_serve.ts`)
 * before it measures memory: detection catching up with the log, the index catching up with
 * it, and the full verification that `serve/integrity.ts` starts once detection has caught up.
 * Each runs once after every start, with bounded memory but for a time that grows with the
 * store (a 1M store's verification is over within 3 s of `/healthz`, a 100M store's takes
 * minutes), so figures sampled at a fixed time after `/healthz` compare a 1M store at rest with
 * a 100M store still verifying. Waited out on every store, the figures after it compare the
 * same work; the wait itself is reported, with the memory it took.
 */

import { gaugeIn, getBody, metricsText, seriesSum } from "./scale_http.ts";
import { type ChildVigil, round, sleep } from "./scale_process.ts";

/** How long the bench lets the restart's background work run before it measures anyway. */
export const SETTLE_BUDGET_S = 1_800;

/** What the wait for the start's background work found. */
export interface StartSettled {
  /** From the call until nothing was pending, or until the budget ran out. */
  seconds: number;
  /** What still ran at the budget's end (`detection`, `index`, `verification`); empty: settled. */
  pending: string[];
  /** The background verification's own time, when it ran during the wait. */
  verifyS?: number;
  /** The highest resident set sampled during the wait, in MiB. */
  rssMaxMib: number;
}

/**
 * Polls `/healthz` and `/metrics` until detection is current, the index holds every stored
 * event and a full verification has finished since the start, or `budgetS` has passed.
 */
export async function waitStartSettled(
  serve: ChildVigil,
  base: string,
  budgetS: number,
): Promise<StartSettled> {
  const t0 = performance.now();
  let rssMax = 0;
  let verifyFrom: number | undefined;
  let verifyS: number | undefined;
  for (;;) {
    rssMax = Math.max(rssMax, (await serve.rss()).rssMib);
    const health = await getBody(`${base}/healthz`, (r) => r.json()) as {
      detection?: { state: string; behind: number };
      store?: { integrity?: { state: string; problem: string | null } };
    };
    // A figure taken beside a store found damaged measures nothing an admin would run.
    const integrity = health.store?.integrity;
    if (integrity?.state === "damaged") {
      throw new Error(`serve found the store damaged at start: ${integrity.problem}`);
    }
    const metrics = await metricsText(base);
    const verifying = seriesSum(metrics, "vigil_store_verify_running") > 0;
    const verified = seriesSum(metrics, "vigil_store_verify_runs_total") > 0;
    if (verifying) verifyFrom ??= performance.now();
    else if (verifyFrom !== undefined && verifyS === undefined) {
      verifyS = round((performance.now() - verifyFrom) / 1000);
    }
    const pending: string[] = [];
    const d = health.detection;
    if (d !== undefined && (d.state !== "running" || d.behind > 0)) pending.push("detection");
    if (gaugeIn(metrics, "vigil_index_lag_events") > 0) pending.push("index");
    if (verifying || !verified) pending.push("verification");
    const seconds = round((performance.now() - t0) / 1000);
    if (pending.length === 0 || seconds >= budgetS) {
      return { seconds, pending, rssMaxMib: rssMax, ...(verifyS === undefined ? {} : { verifyS }) };
    }
    await sleep(250);
  }
}
