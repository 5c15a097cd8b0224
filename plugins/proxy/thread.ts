/**
 * Runs a proxy source in a Worker of its own (`proxy_worker.ts`) and bridges it to the daemon: the
 * worker's batches go to the source's real context (`ctx.emit`, the pipeline, the store) and
 * each one's outcome back; its gauges and stats are passed on; the daemon's stop (`ctx.signal`)
 * is passed in, and the run returns once the worker has closed its sessions and stored what its
 * backlog held. A worker that dies is the source's failure, as a thrown run would be. The worker
 * has the daemon's permissions (a Worker inherits them), which already allow only what the
 * sources need.
 */

import { type SourceContext, SourceError } from "../../daemon/source.ts";
import type { ProxySettings } from "./config.ts";
import type { ProxyStats } from "./source.ts";
import type { FromWorker, ToWorker } from "./thread_protocol.ts";

/** Runs the proxy in its worker until `ctx.signal` aborts; rejects as `runProxySource` does. */
export function runProxyThread(
  settings: ProxySettings,
  ctx: SourceContext,
  stats: ProxyStats,
): Promise<void> {
  const worker = new Worker(new URL("./proxy_worker.ts", import.meta.url).href, { type: "module" });
  const post = (msg: ToWorker): void => worker.postMessage(msg);
  return new Promise<void>((resolve, reject) => {
    let ended = false;
    const finish = (error?: unknown): void => {
      if (ended) return;
      ended = true;
      ctx.signal.removeEventListener("abort", stop);
      stats.address = undefined;
      stats.sessions = 0;
      worker.terminate();
      if (error === undefined) resolve();
      else reject(error);
    };
    const stop = (): void => post({ t: "abort" });
    worker.onmessage = (e: MessageEvent<FromWorker>): void => {
      const msg = e.data;
      switch (msg.t) {
        case "emit":
          ctx.emit(msg.batch).then(
            () => post({ t: "ack", id: msg.id }),
            (error) => post({ t: "ack", id: msg.id, error: String(error?.message ?? error) }),
          );
          break;
        case "gauge":
          ctx.gauge?.(msg.name, msg.value);
          break;
        case "stats":
          stats.address = msg.address;
          stats.sessions = msg.sessions;
          break;
        case "end":
          finish(
            msg.error === undefined
              ? undefined
              : new SourceError(msg.error.stage, msg.error.message),
          );
          break;
      }
    };
    worker.onerror = (e: ErrorEvent): void => {
      e.preventDefault();
      finish(new SourceError("receive", `proxy ${ctx.name}: its thread failed: ${e.message}`));
    };
    ctx.signal.addEventListener("abort", stop, { once: true });
    post({ t: "start", name: ctx.name, position: ctx.position, spoolDir: ctx.spoolDir, settings });
    if (ctx.signal.aborted) stop();
  });
}
