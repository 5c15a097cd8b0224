/**
 * An in-memory AlertStore for the web tests, holding alerts shaped like the detection engine's.
 * It keeps the interface's promises (newest first, the `acked` filter, period overlap, first
 * acknowledgement wins) so the pages are tested against the contract.
 */

import type { Alert, AlertStore } from "../../web/deps.ts";

/** The store. */
export class MemoryAlerts implements AlertStore {
  #alerts: Alert[];

  constructor(alerts: Alert[]) {
    this.#alerts = alerts.map((a) => ({ ...a }));
  }

  list(q: { acked?: boolean; from?: number; to?: number; limit?: number }): Alert[] {
    return this.#alerts
      .filter((a) => q.acked === undefined || (a.ack !== undefined) === q.acked)
      .filter((a) => q.to === undefined || a.ts_from < q.to)
      .filter((a) => q.from === undefined || a.ts_to >= q.from)
      .sort((a, b) => b.ts_from - a.ts_from)
      .slice(0, q.limit ?? Infinity);
  }

  get(id: number): Alert | undefined {
    return this.#alerts.find((a) => a.id === id);
  }

  ack(id: number, by: string, note: string): Promise<void> {
    const i = this.#alerts.findIndex((a) => a.id === id);
    const a = this.#alerts[i];
    if (a && a.ack === undefined) {
      this.#alerts[i] = { ...a, ack: { by, note, ts: Date.now() * 1000 } };
    }
    return Promise.resolve();
  }
}
