/**
 * The download phase of `vigil bench scale` (`scale_serve.ts`): an auditor signs in to a running
 * `serve` over HTTP as a browser would (the sign-in form's CSRF token, the session cookie) and
 * downloads an air-gapped bundle of the bench's export range from the Management page, reading
 * the tar to its end, while the daemon's resident memory is sampled. It answers "memory bounded
 * while auditors download": `serve` writes the bundle with the same writer as `vigil export` and
 * streams it, so its memory must not follow the range.
 */

import { formatRfc3339Micros } from "../event/time.ts";
import { type ChildVigil, round, sleep } from "./scale_process.ts";
import type { BenchResult } from "./store_bench.ts";

/** A signed-in browser's cookies, kept over plain `fetch` (redirects are not followed). */
class CookieJar {
  #cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#cookies.size > 0) {
      headers.set("Cookie", [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    if (init.method === "POST") headers.set("Origin", this.base);
    const res = await fetch(`${this.base}${path}`, { ...init, headers, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(";")[0]!;
      const eq = pair.indexOf("=");
      this.#cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  }

  /** The CSRF token of a page's forms. */
  async csrf(path: string): Promise<string> {
    const res = await this.request(path);
    const html = await res.text();
    const m = /name="_csrf" value="([^"]+)"/.exec(html);
    if (!m) throw new Error(`GET ${path} answered ${res.status} without a CSRF token`);
    return m[1]!;
  }

  post(path: string, fields: Record<string, string>): Promise<Response> {
    return this.request(path, { method: "POST", body: new URLSearchParams(fields) });
  }
}

/**
 * Signs in as `user` and downloads the bundle of [from, to) (µs), sampling `serve`'s RSS every
 * 100 ms until the last byte: the download's rate, its size and the daemon's RSS meanwhile.
 */
export async function downloadFigures(
  serve: ChildVigil,
  base: string,
  user: { name: string; password: string },
  range: { from: number; to: number },
  note = "an auditor's bundle download from the Management page, the export's range",
): Promise<BenchResult[]> {
  const jar = new CookieJar(base);
  const login = await jar.post("/login", {
    _csrf: await jar.csrf("/login"),
    name: user.name,
    password: user.password,
    next: "",
  });
  await login.body?.cancel();
  if (login.status !== 303) throw new Error(`sign-in answered ${login.status}, not 303`);
  const csrf = await jar.csrf("/management");

  let done = false;
  let rss = 0;
  const sampler = (async () => {
    while (!done) {
      rss = Math.max(rss, (await serve.rss()).rssMib);
      await sleep(100);
    }
  })();
  const t = performance.now();
  let bytes = 0;
  let events = 0;
  try {
    const res = await jar.post("/management/bundle", {
      _csrf: csrf,
      from: formatRfc3339Micros(range.from),
      to: formatRfc3339Micros(range.to),
    });
    if (res.status !== 200 || res.body === null) {
      throw new Error(`bundle download answered ${res.status}: ${await res.text()}`);
    }
    events = Number(res.headers.get("X-Vigil-Bundle-Events"));
    for await (const chunk of res.body) bytes += chunk.length;
  } finally {
    done = true;
    await sampler;
  }
  const seconds = (performance.now() - t) / 1000;
  return [{
    bench: "scale.serve_rss_while_downloading",
    value: rss,
    unit: "MiB",
    events,
    bundle_mib: round(bytes / 1024 / 1024),
    seconds: round(seconds),
    events_per_s: Math.round(events / seconds),
    note,
  }];
}
