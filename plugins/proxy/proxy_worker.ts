/**
 * A proxy source's own thread: a Worker that runs the whole forwarding side of the source —
 * listening, sessions, protocol tracking, event building, the observe backlog and enforce's
 * group commit (`source.ts`) — so that what the daemon's thread does besides (the store's
 * framing, the search index's transactions, detection, HTTP) never holds up a forwarded chunk.
 * Its context is a stand-in for the daemon's: `emit` posts the batch and resolves only once the
 * daemon's thread answers that it is durable (or rejects with the store's refusal), so enforce
 * mode's promise and exactly-once hold across the thread boundary as they do within one.
 */

import { type SourceContext, SourceError } from "../../daemon/source.ts";
import { type ProxyStats, runProxySource } from "./source.ts";
import type { FromWorker, ToWorker } from "./thread_protocol.ts";

declare const self: {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(msg: FromWorker): void;
  close(): void;
};

const post = (msg: FromWorker): void => self.postMessage(msg);
/**
 * Gauges as last set, posted together at most every {@link GAUGE_MS}: the backlog gauge is set
 * with every statement, and a message a statement would cost more than the statement's event.
 */
const gauges = new Map<string, number>();
let gaugeTimer: ReturnType<typeof setTimeout> | undefined;
const GAUGE_MS = 200;

function flushGauges(): void {
  clearTimeout(gaugeTimer);
  gaugeTimer = undefined;
  for (const [name, value] of gauges) post({ t: "gauge", name, value });
  gauges.clear();
}
const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
const abort = new AbortController();
let next = 1;

self.onmessage = (e: MessageEvent<ToWorker>): void => {
  const msg = e.data;
  switch (msg.t) {
    case "start":
      void start(msg);
      break;
    case "abort":
      abort.abort();
      break;
    case "ack": {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error === undefined) p?.resolve();
      else p?.reject(new SourceError("store", msg.error));
      break;
    }
  }
};

async function start(msg: Extract<ToWorker, { t: "start" }>): Promise<void> {
  // Every change of the stats goes to the daemon's thread, where `ProxySource.stats` is read.
  let address: ProxyStats["address"];
  let sessions = 0;
  const stats: ProxyStats = {
    get address() {
      return address;
    },
    set address(a) {
      address = a;
      post({ t: "stats", address, sessions });
    },
    get sessions() {
      return sessions;
    },
    set sessions(n) {
      if (n === sessions) return;
      sessions = n;
      post({ t: "stats", address, sessions });
    },
  };
  const ctx: SourceContext = {
    name: msg.name,
    position: msg.position,
    ...(msg.spoolDir !== undefined ? { spoolDir: msg.spoolDir } : {}),
    signal: abort.signal,
    emit: (batch) =>
      new Promise((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        post({ t: "emit", id, batch });
      }),
    gauge: (name, value) => {
      gauges.set(name, value);
      gaugeTimer ??= setTimeout(flushGauges, GAUGE_MS);
    },
  };
  try {
    await runProxySource(msg.settings, ctx, stats);
    flushGauges();
    post({ t: "end" });
  } catch (error) {
    flushGauges();
    const stage = error instanceof SourceError ? error.stage : "receive";
    post({ t: "end", error: { message: (error as Error)?.message ?? String(error), stage } });
  }
}
