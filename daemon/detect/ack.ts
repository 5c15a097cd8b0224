/**
 * Acknowledging an alert: who, when and why is appended to the chain as an event, so that the
 * acknowledgement is as tamper-evident as the activity it judged, and survives a rebuild of the
 * alert store (replaying the log re-applies it).
 */

import type { NewEvent } from "../event/model.ts";
import type { Store } from "../store/store.ts";
import type { Alert } from "./alert.ts";
import type { AlertStore } from "./alert_store.ts";
import { ACK_COMMAND, ACK_SOURCE } from "./event_facts.ts";

/** The chain event that acknowledges `alert`. */
export function ackEvent(alert: Alert, by: string, note: string, nowUs: number): NewEvent {
  return {
    ts: nowUs,
    source: ACK_SOURCE,
    kind: "app",
    command: ACK_COMMAND,
    app_user: by,
    context: { alert_id: alert.id, alert_key: alert.key, rule: alert.rule, note },
  };
}

/**
 * Appends the ack of alert `id` to `store` and, once durable, records it in `alerts`.
 * Rejects with a RangeError for an unknown id and a TypeError for an empty `by`.
 */
export async function acknowledgeAlert(
  alerts: AlertStore,
  store: Store,
  ack: { id: number; by: string; note: string; nowUs?: number },
): Promise<Alert> {
  if (ack.by.trim() === "") throw new TypeError("Cannot acknowledge an alert: --by is empty");
  const alert = alerts.get(ack.id);
  if (!alert) throw new RangeError(`Cannot acknowledge alert ${ack.id}: no such alert`);
  const ev = ackEvent(alert, ack.by, ack.note, ack.nowUs ?? Date.now() * 1000);
  const { firstSeq } = await store.append({ source: ACK_SOURCE, events: [ev] });
  alerts.setAck(alert.key, { by: ack.by, note: ack.note, ts: ev.ts, seq: firstSeq });
  return alerts.get(ack.id)!;
}
