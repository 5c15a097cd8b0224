/**
 * A real `vigil serve` with one proxy source in front of a PostgreSQL on loopback, for the proxy
 * benchmark and the proxy's real-client tests: the config written to a directory of the
 * caller's, the daemon started from this checkout with the `vigil` task's permissions, and
 * ready only once it is healthy and says its proxy listens. It can be stopped (SIGTERM),
 * killed (SIGKILL) and started again on the same port and data directory, and it reads back the
 * events its source stored, from the log (the truth, readable while the daemon appends).
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { type ChildVigil, spawnVigil, waitHealthy } from "../../../daemon/bench/scale_process.ts";
import { getBody } from "../../../daemon/bench/scale_http.ts";
import { freePort } from "./ports.ts";

/** How the proxy stores events: see the README's proxy section. */
export type ProxyMode = "observe" | "enforce";

/** Options of {@link startProxyServe}. */
export interface ProxyServeOptions {
  /** A directory of the caller's: the config and the data directory go below it. */
  dir: string;
  /** The upstream server's loopback port. */
  upstreamPort: number;
  mode: ProxyMode;
  /** The proxy's port; default a free one, kept across {@link ProxyServe.restart}. */
  port?: number;
  /** The source's name; default `"proxy"`. */
  name?: string;
  /** How long to wait for the daemon to be ready; default 120 s. */
  timeoutMs?: number;
  /** PEM certificate and key the proxy shows clients (`tls_cert`, `tls_key`); default none. */
  tls?: { cert: string; key: string };
}

/** A running `vigil serve` with its proxy source. */
export interface ProxyServe extends AsyncDisposable {
  /** The proxy's port on 127.0.0.1. */
  readonly port: number;
  readonly dataDir: string;
  readonly configPath: string;
  readonly source: string;
  readonly mode: ProxyMode;
  /** The daemon process now running. */
  readonly pid: number;
  /** The last lines the daemon wrote to stderr (its log). */
  logTail(): Promise<string>;
  /** SIGTERM and wait; fails when the daemon does not exit with 0. */
  stop(): Promise<void>;
  /** SIGKILL and wait: what a crash leaves. */
  kill(): Promise<void>;
  /** Starts the daemon again (after `stop` or `kill`) on the same port and data. */
  restart(): Promise<void>;
  /** Every stored event of this source, in seq order. */
  events(): Promise<AuditEvent[]>;
}

/** The config file of one proxy source. */
export function proxyConfig(
  opts: {
    dataDir: string;
    name: string;
    port: number;
    upstreamPort: number;
    mode: ProxyMode;
    tls?: { cert: string; key: string } | undefined;
  },
): string {
  return [
    `data_dir = ${JSON.stringify(opts.dataDir)}`,
    "",
    "[web]",
    'listen = "127.0.0.1:0"',
    "",
    "[[sources]]",
    `name = ${JSON.stringify(opts.name)}`,
    'type = "proxy"',
    `listen = "127.0.0.1:${opts.port}"`,
    `upstream = "postgres://127.0.0.1:${opts.upstreamPort}/?sslmode=disable"`,
    `mode = "${opts.mode}"`,
    ...(opts.tls === undefined ? [] : [
      `tls_cert = ${JSON.stringify(opts.tls.cert)}`,
      `tls_key = ${JSON.stringify(opts.tls.key)}`,
    ]),
    "",
  ].join("\n");
}

/** Whether the daemon at `base` says its proxy source `name` listens (its `connected` gauge). */
async function listening(base: string, name: string): Promise<boolean> {
  const h = await getBody(`${base}/healthz`, (r) => r.json()) as {
    sources?: { name: string; gauges?: Record<string, number> }[];
  };
  return h.sources?.find((s) => s.name === name)?.gauges?.connected === 1;
}

/** Writes the config, starts `vigil serve` and waits until the proxy takes connections. */
export async function startProxyServe(opts: ProxyServeOptions): Promise<ProxyServe> {
  const source = opts.name ?? "proxy";
  const port = opts.port ?? freePort();
  const dataDir = `${opts.dir}/data`;
  const configPath = `${opts.dir}/vigil.toml`;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  await Deno.writeTextFile(
    configPath,
    proxyConfig({
      dataDir,
      name: source,
      port,
      upstreamPort: opts.upstreamPort,
      mode: opts.mode,
      tls: opts.tls,
    }),
  );
  let serve: ChildVigil | undefined;
  let running = false;

  async function start(): Promise<void> {
    serve = spawnVigil(["serve", "--config", configPath]);
    running = true;
    let exited = false;
    serve.child.status.then(() => (exited = true));
    try {
      const base = await waitHealthy(serve, timeoutMs);
      const deadline = performance.now() + timeoutMs;
      // Its own listener, as the daemon reports it: the port bound is not enough, since another
      // test's server may take a port between `freePort()` (or a kill) and the daemon's bind,
      // and a client would then talk to that one.
      while (!await listening(base, source)) {
        if (exited) throw new Error("vigil serve exited");
        if (performance.now() > deadline) {
          throw new Error(`the proxy did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } catch (error) {
      const tail = await halt("SIGKILL");
      throw new Error(`vigil serve with a proxy on port ${port} did not start: ${tail}`, {
        cause: error,
      });
    }
  }

  async function halt(signal: Deno.Signal): Promise<string> {
    if (serve === undefined || !running) return "";
    running = false;
    try {
      serve.child.kill(signal);
    } catch {
      // It had exited already; its status says how.
    }
    const status = await serve.child.status;
    const tail = await serve.stderrText();
    if (signal === "SIGTERM" && status.code !== 0) {
      throw new Error(`vigil serve exited with ${status.code} on SIGTERM: ${tail}`);
    }
    return tail;
  }

  await start();
  return {
    port,
    dataDir,
    configPath,
    source,
    mode: opts.mode,
    get pid() {
      return serve!.child.pid;
    },
    logTail: () => Promise.resolve(serve!.lines.slice(-40).join("\n")),
    stop: async () => void await halt("SIGTERM"),
    kill: async () => void await halt("SIGKILL"),
    restart: start,
    events: () => sourceEvents(dataDir, source),
    [Symbol.asyncDispose]: async () => void await halt("SIGKILL"),
  };
}

/** Every stored event of `source` in the store at `dataDir`, in seq order. */
export async function sourceEvents(dataDir: string, source: string): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  for await (const { event } of readLog(dataDir)) {
    if (event.source === source) events.push(event);
  }
  return events;
}
