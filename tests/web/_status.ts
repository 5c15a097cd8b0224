/**
 * A StatusProvider for the web tests: fixed but realistic snapshots of two sources (a running
 * WAL source with lag, a pgAudit source in backoff after an error) over the real store's size,
 * and series shaped like the daemon's (10 s samples for an hour, 5 min for a day).
 */

import type { ServeStatus, StatusProvider, StatusSample } from "../../daemon/serve/status.ts";
import type { Store } from "../../daemon/store/store.ts";

/** The fixed clock of the snapshots, ms. */
export const STATUS_NOW = 1_767_225_600_000; // 2026-01-01T00:00:00Z

/** The snapshot provider. */
export class FixedStatus implements StatusProvider {
  #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  current(): ServeStatus {
    return {
      version: "0.1.0",
      startedAt: STATUS_NOW - 3 * 3600_000,
      healthy: false,
      store: {
        dataDir: this.#store.dataDir,
        size: this.#store.size,
        bytes: 12_345_678,
        diskFreeBytes: 50 * 1024 ** 3,
        commitSeconds: { p50: 0.004, p99: 0.019, count: 1200 },
        lastCheckpoint: { size: this.#store.size, time: "2025-12-31T23:59:00Z" },
        lastError: null,
      },
      sources: [
        {
          name: "billing",
          type: "wal",
          state: "running",
          healthy: true,
          restarts: 0,
          events: 48_211,
          bytes: 14_000_000,
          errors: 0,
          lastEventTs: (STATUS_NOW - 4000) * 1000,
          lastStoredAt: STATUS_NOW - 3900,
          lastError: null,
          gauges: { lag_bytes: 81_920 },
        },
        {
          name: "billing-log",
          type: "pgaudit",
          state: "backoff",
          healthy: false,
          restarts: 3,
          events: 9_002,
          bytes: 3_100_000,
          errors: 3,
          lastEventTs: (STATUS_NOW - 600_000) * 1000,
          lastStoredAt: STATUS_NOW - 600_000,
          lastError: {
            message: "Cannot open /var/log/postgresql/pg.csv: permission denied",
            stage: "receive",
            at: STATUS_NOW - 30_000,
          },
          gauges: {},
        },
      ],
    };
  }

  series(source: string, window: "hour" | "day"): readonly StatusSample[] {
    const step = window === "hour" ? 10_000 : 300_000;
    const n = window === "hour" ? 360 : 288;
    const out: StatusSample[] = [];
    for (let i = 0; i < n; i++) {
      const at = STATUS_NOW - (n - 1 - i) * step;
      const wave = 40 + 30 * Math.sin(i / 17) + (i % 23 === 0 ? 80 : 0);
      out.push({
        at,
        eventsPerSecond: source === "billing" ? wave : i > n - 60 ? 0 : wave / 4,
        lagBytes: source === "billing" ? 8192 * (1 + (i % 11)) : null,
      });
    }
    return out;
  }
}
