/**
 * Deduplication: drafts of one rule about one role that come within `merge_minutes` of each
 * other are one incident. The merged alert spans all of them, keeps the highest severity and
 * score, the first reason (with the count of drafts) and the union of their evidence seqs.
 * One incident is kept per rule and role (its evidence capped at `MAX_SEQS`), so the state grows
 * with the roles, never with the events or the alerts.
 */

import { type AlertDraft, alertKey, MAX_SEQS, severityRank } from "./alert.ts";

/** An incident being built, before the store numbers it. */
export interface Incident extends AlertDraft {
  key: string;
  count: number;
}

/** Merges drafts into incidents; deterministic in the order drafts arrive. */
export class Deduplicator {
  #open = new Map<string, Incident>();
  #mergeUs: number;

  constructor(mergeMinutes: number) {
    this.#mergeUs = mergeMinutes * 60e6;
  }

  /** The last incident of each rule and role, by `rule\0role`: what a snapshot keeps. */
  entries(): [string, Incident][] {
    return [...this.#open];
  }

  /** Puts back an incident of `entries()` into a new deduplicator. */
  restore(group: string, incident: Incident): void {
    this.#open.set(group, incident);
  }

  /** The incident the draft became part of, and whether it is a new one. */
  add(d: AlertDraft): { incident: Incident; created: boolean } {
    const group = `${d.rule}\u0000${d.role}`;
    const cur = this.#open.get(group);
    if (cur && d.ts_from <= cur.ts_to + this.#mergeUs && d.ts_to >= cur.ts_from - this.#mergeUs) {
      merge(cur, d);
      return { incident: cur, created: false };
    }
    const incident: Incident = {
      ...d,
      features: [...d.features],
      seqs: d.seqs.slice(0, MAX_SEQS),
      key: alertKey(d),
      count: 1,
    };
    this.#open.set(group, incident);
    return { incident, created: true };
  }
}

function merge(into: Incident, d: AlertDraft): void {
  into.ts_from = Math.min(into.ts_from, d.ts_from);
  into.ts_to = Math.max(into.ts_to, d.ts_to);
  if (severityRank(d.severity) > severityRank(into.severity)) into.severity = d.severity;
  if (d.score > into.score) {
    into.score = d.score;
    into.features = [...d.features];
  }
  if (into.client_addr === undefined && d.client_addr !== undefined) {
    into.client_addr = d.client_addr;
  }
  if (into.db === undefined && d.db !== undefined) into.db = d.db;
  into.count++;
  const have = new Set(into.seqs);
  for (const s of d.seqs) {
    if (into.seqs.length >= MAX_SEQS) break;
    if (!have.has(s)) into.seqs.push(s);
  }
  into.seqs.sort((a, b) => a - b);
  const base = into.reason.replace(/ \(\d+ detections\)$/, "");
  into.reason = `${base} (${into.count} detections)`;
}
