/**
 * How `vigil bench scale` asks a running `serve` (`scale_serve.ts`, `scale_settle.ts`): GETs
 * tried again when a kept-alive connection fails under them, and the gauges of `/metrics`.
 */

import { sleep } from "./scale_process.ts";

/** `serve`'s `/metrics` text. */
export function metricsText(base: string): Promise<string> {
  return getBody(`${base}/metrics`, (r) => r.text());
}

/** A gauge of `serve`'s `/metrics`. */
export async function gauge(base: string, name: string): Promise<number> {
  return gaugeIn(await metricsText(base), name);
}

/** An unlabelled gauge in a `/metrics` text; throws when it is not there. */
export function gaugeIn(text: string, name: string): number {
  const v = new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1];
  if (v === undefined) throw new Error(`/metrics has no ${name}`);
  return Number(v);
}

/** The sum of a family's series in a `/metrics` text (a counter by label, say); 0 when none. */
export function seriesSum(text: string, name: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, "gm"))) {
    sum += Number(m[1]);
  }
  return sum;
}

export function indexLag(base: string): Promise<number> {
  return gauge(base, "vigil_index_lag_events");
}

export function storeEvents(base: string): Promise<number> {
  return gauge(base, "vigil_store_events");
}

/**
 * A GET, tried again when the connection fails: a kept-alive connection that the server closes
 * as idle just as a request goes out fails that request (a race of HTTP/1.1 itself, which
 * clients answer by retrying an idempotent request), and on a loaded machine a daemon busy with
 * its builds can let a connection's header timeout pass before it reads it. The fourth failure
 * is the bench's error.
 */
export async function get(url: string, init?: RequestInit): Promise<Response> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fetch(url, init);
    } catch (e) {
      if (!(e instanceof TypeError) || attempt >= 4) throw e;
      await sleep(500 * attempt);
    }
  }
}

/** A GET and its body, both tried again as {@link get} tries the request. */
export async function getBody<T>(url: string, body: (r: Response) => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await body(await get(url));
    } catch (e) {
      if (!(e instanceof TypeError) || attempt >= 4) throw e;
      await sleep(500 * attempt);
    }
  }
}
