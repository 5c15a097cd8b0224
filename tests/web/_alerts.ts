/**
 * An in-memory AlertStore for the web tests, holding alerts shaped like the detection engine's.
 * It keeps the interface's promises (newest first, `open` filter, period overlap, first
 * acknowledgement wins) so the pages are tested against the contract.
 */

import type { Alert, AlertStore } from "../../web/deps.ts";

/** The store. */
export class MemoryAlerts implements AlertStore {
  #alerts: Alert[];

  constructor(alerts: Alert[]) {
    this.#alerts = alerts.map((a) => ({ ...a }));
  }

  list(q: { open?: boolean; from?: number; to?: number; limit?: number }): Promise<Alert[]> {
    const out = this.#alerts
      .filter((a) => !q.open || a.acked_by === null)
      .filter((a) => q.to === undefined || a.ts_from < q.to)
      .filter((a) => q.from === undefined || a.ts_to >= q.from)
      .sort((a, b) => b.ts_from - a.ts_from)
      .slice(0, q.limit ?? Infinity);
    return Promise.resolve(out);
  }

  get(id: string): Promise<Alert | null> {
    return Promise.resolve(this.#alerts.find((a) => a.id === id) ?? null);
  }

  ack(id: string, by: string): Promise<void> {
    const i = this.#alerts.findIndex((a) => a.id === id);
    const a = this.#alerts[i];
    if (a && a.acked_by === null) this.#alerts[i] = { ...a, acked_by: by, acked_at: Date.now() };
    return Promise.resolve();
  }
}
