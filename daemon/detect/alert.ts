/**
 * What a detector says: an alert about one incident, with the events behind it and the reason in
 * words and numbers. `AlertDraft` is what a rule or model emits; the deduplicator merges drafts
 * of one rule and role into incidents, and the store numbers them.
 */

import { SEVERITIES, type Severity } from "./config.ts";

/** One feature that made an alert unusual: its name, value and what was usual. */
export interface ReasonFeature {
  name: string;
  value: number;
  /** The role's usual value (baseline mean, history maximum, …), when there is one. */
  usual?: number;
}

/** What a detector emits before deduplication. */
export interface AlertDraft {
  /** Rule name (`ddl_by_non_ddl_role`) or model (`model:isolation_forest`). */
  rule: string;
  severity: Severity;
  ts_from: number;
  ts_to: number;
  role: string;
  client_addr?: string;
  db?: string;
  /** 0…1 for models; the measured quantity for rules (count, share). */
  score: number;
  /** The why, in words with the numbers. */
  reason: string;
  features: ReasonFeature[];
  seqs: number[];
}

/** How an alert was acknowledged; the ack itself is an event in the chain. */
export interface AlertAck {
  by: string;
  note: string;
  /** Event time of the ack event, µs. */
  ts: number;
  /** Seq of the ack event in the store. */
  seq: number;
}

/** One incident. `key` is stable across rebuilds: rule, role and the first event's seq. */
export interface Alert extends AlertDraft {
  id: number;
  key: string;
  /** How many drafts merged into this incident. */
  count: number;
  ack?: AlertAck;
}

/** Evidence seqs kept per alert; the range `ts_from`…`ts_to` finds the rest. */
export const MAX_SEQS = 1000;

/** The rank of a severity, for comparisons. */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** The incident key of a draft: stable under replay, since seqs are. */
export function alertKey(d: AlertDraft): string {
  return `${d.rule}|${d.role}|${d.seqs[0] ?? d.ts_from}`;
}

/** Formats a reason's features as `name=value (usual u)` for messages. */
export function describeFeatures(features: ReasonFeature[]): string {
  return features.map((f) =>
    f.usual === undefined
      ? `${f.name}=${round(f.value)}`
      : `${f.name}=${round(f.value)} (usual ${round(f.usual)})`
  ).join(", ");
}

/** Rounds for display: 3 significant decimals at most. */
export function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
