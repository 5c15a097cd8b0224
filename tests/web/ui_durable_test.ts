/**
 * What the UI records after it has answered — a verification's result, a bundle download the
 * browser abandoned — reaches the chain although the request is closed by then. Served over
 * real HTTP, by `Deno.serve` and by the daemon's own server, since a request object that is
 * closed cannot be read any more (Deno.serve's client address is read from it).
 */

import type { NewEvent } from "../../daemon/event/model.ts";
import { serveHttp } from "../../daemon/serve/http_server.ts";
import { assertEquals, assertEventually, assertMatch } from "../support/assert.ts";
import { PASSWORD, uiEvents, withWorld, type World } from "./_harness.ts";

/**
 * `n` app events in the bundle period, each carrying `bytes` of random text in its context
 * (not searchable text, which the index would fold).
 */
function bulky(n: number, bytes: number): NewEvent[] {
  const T0 = 1_767_139_200_000_000; // 2025-12-31T00:00:00Z, as the harness's events
  return Array.from({ length: n }, (_, i) => {
    const noise = crypto.getRandomValues(new Uint8Array(bytes * 3 / 4));
    return {
      ts: T0 + 125 * 60_000_000 + i,
      source: "billing",
      kind: "app" as const,
      role: "batch",
      context: { blob: btoa(String.fromCharCode(...noise)) },
    };
  });
}

/** Serves the world's app on a loopback port for the test's duration. */
type Serve = (w: World) => Promise<{ base: string; stop(): Promise<void> }>;

const SERVERS: [string, Serve][] = [
  ["Deno.serve", (w) => {
    const ready = Promise.withResolvers<void>();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => ready.resolve() },
      (req, info) => w.app.fetch(req, info),
    );
    return ready.promise.then(() => ({
      base: `http://127.0.0.1:${server.addr.port}`,
      stop: () => server.shutdown(),
    }));
  }],
  ["the daemon's server", async (w) => {
    const server = await serveHttp((req, info) => w.app.fetch(req, info), {
      hostname: "127.0.0.1",
      port: 0,
      onError: () => new Response("internal error", { status: 500 }),
    });
    return { base: `http://127.0.0.1:${server.addr.port}`, stop: () => server.shutdown() };
  }],
];

/** A browser, as far as cookies, the same-origin header and form posts go. */
class Browser {
  #cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Cookie", [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    headers.set("Origin", this.base);
    const res = await fetch(`${this.base}${path}`, { ...init, headers, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      this.#cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return res;
  }

  async csrf(path: string): Promise<string> {
    const html = await (await this.fetch(path)).text();
    return /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
  }

  async post(path: string, fields: Record<string, string>, signal?: AbortSignal) {
    return await this.fetch(path, {
      method: "POST",
      body: new URLSearchParams(fields),
      ...(signal ? { signal } : {}),
    });
  }

  async login(name: string): Promise<void> {
    const csrf = await this.csrf("/login");
    const res = await this.post("/login", { _csrf: csrf, name, password: PASSWORD, next: "" });
    assertEquals(res.status, 303);
    await res.body?.cancel();
  }
}

for (const [server, serve] of SERVERS) {
  Deno.test(`over ${server}: a verification's result is in the chain, TAMPERED included`, async () => {
    await withWorld({}, async (w) => {
      const http = await serve(w);
      try {
        const b = new Browser(http.base);
        await b.login("auditor1");
        // A checkpoint's signature altered: verification fails, the log still reads.
        const file = `${w.dir}/checkpoints.jsonl`;
        const text = await Deno.readTextFile(file);
        await Deno.writeTextFile(
          file,
          text.replace(/"sig":"(.)/, (_, c) => `"sig":"${c === "A" ? "B" : "A"}`),
        );
        const res = await b.post("/management/verify", { _csrf: await b.csrf("/management") });
        assertEquals(res.status, 303);
        await res.body?.cancel();
        const started = (await uiEvents(w.dir)).filter((e) => e.command === "VERIFY_START");
        assertEquals(started.map((e) => [e.role, e.client_addr]), [["auditor1", "127.0.0.1"]]);
        const result = await assertEventually(
          async () => (await uiEvents(w.dir)).find((e) => e.command === "VERIFY"),
          { message: "the VERIFY result in the chain" },
        );
        assertEquals([result.role, result.client_addr], ["auditor1", "127.0.0.1"]);
        assertEquals(result.context?.ok, false);
        assertMatch(result.error ?? "", /signature/i);
      } finally {
        await http.stop();
      }
    });
  });

  Deno.test(`over ${server}: a bundle download the browser abandons is recorded as unfinished`, async () => {
    await withWorld({}, async (w) => {
      // A bundle larger than the sockets' buffers, so that it is still being sent when the
      // browser goes away: random text, which Parquet cannot shrink much.
      await w.store.append({ source: "billing", events: bulky(400, 40_000) });
      await w.store.checkpoint(true);
      const http = await serve(w);
      try {
        const b = new Browser(http.base);
        await b.login("admin1");
        const abort = new AbortController();
        const res = await b.post("/management/bundle", {
          _csrf: await b.csrf("/management"),
          from: "2025-12-30",
          to: "2026-01-02",
        }, abort.signal);
        assertEquals(res.status, 200);
        const reader = res.body!.getReader();
        await reader.read();
        abort.abort();
        await reader.cancel().catch(() => {});
        const unfinished = await assertEventually(
          async () =>
            (await uiEvents(w.dir)).find((e) => e.object === "bundle" && e.error !== undefined),
          { message: "the unfinished download in the chain" },
        );
        assertEquals([unfinished.role, unfinished.client_addr], ["admin1", "127.0.0.1"]);
        assertMatch(unfinished.error!, /did not finish/);
      } finally {
        await http.stop();
      }
    });
  });
}
