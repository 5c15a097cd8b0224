/**
 * The evidence pack for a period: what was collected per source, the gaps the sources reported,
 * the alerts raised and who reviewed them, the verification record, the signed checkpoint
 * that covers it and the configuration in force on each watched database — one JSON document, also rendered as a printable page. Everything in it is
 * read from the store, the index, the access database and the alert store; nothing is
 * summarised by hand. Every gap of the period is found; a list too long to hold (gaps, alerts)
 * is cut with the pack saying so (`gaps_total`, `alerts_cut`), never silently.
 */

import type { VerifyRun } from "../daemon/access/mod.ts";
import type { AuditEvent, JsonObject } from "../daemon/event/model.ts";
import { latestConfigurations } from "./configuration.ts";
import { publicKeyPem, readPublicKey } from "../daemon/store/keys.ts";
import { storePaths } from "../daemon/store/store_open.ts";
import { type Coverage, coverage, gapEvents, gapKind } from "./compliance.ts";
import type { Alert, WebDeps } from "./deps.ts";
import { latestCheckpoint } from "./proof.ts";
import type { Checkpoint } from "../daemon/store/checkpoint.ts";
import { formatRfc3339Micros } from "../daemon/event/time.ts";

/** The pack. Times of events are RFC 3339; `*_at` wall times are RFC 3339 too. */
export interface EvidencePack {
  period: { from: string; to: string };
  generated_at: string;
  generated_by: string;
  appliance: { key_id: string; store_events: number; public_key_pem: string };
  sources: { source: string; events: number; first: string | null; last: string | null }[] | null;
  gaps: {
    seq: number;
    ts: string;
    source: string;
    type: "gap" | "recovery";
    command: string | null;
    detail: string | null;
  }[];
  /** How many gaps the period holds: more than `gaps` lists when the list was cut. */
  gaps_total: number;
  alerts:
    | null
    | {
      id: number;
      rule: string;
      severity: string;
      from: string;
      to: string;
      reason: string;
      seqs: readonly number[];
      reviewed_by: string | null;
      reviewed_at: string | null;
      review_note: string | null;
    }[];
  /** True when the period raised more alerts than `alerts` lists. */
  alerts_cut: boolean;
  verification: {
    latest: (Omit<VerifyRun, "startedAt" | "finishedAt"> & { finished_at: string }) | null;
    runs_in_period: number;
  };
  checkpoint: (Checkpoint & { signature_ok: boolean; signed_at: string }) | null;
  /**
   * The latest configuration reading of each WAL source at the end of the period (the stored
   * `PG_CONFIG` event: what was in force on its database).
   */
  configuration: {
    source: string;
    db: string | null;
    seq: number;
    read_at: string;
    reading: JsonObject;
  }[];
}

/** Most alerts a pack lists; past it the pack says it is cut. */
const MAX_ALERTS = 10_000;

const iso = (ms: number): string => new Date(ms).toISOString();
const us = (t: number | null): string | null => t === null ? null : formatRfc3339Micros(t);

function gapRow(e: AuditEvent): EvidencePack["gaps"][number] {
  return {
    seq: e.seq,
    ts: formatRfc3339Micros(e.ts),
    source: e.source,
    type: gapKind(e)!,
    command: e.command ?? null,
    detail: e.error ?? (e.context ? JSON.stringify(e.context) : null),
  };
}

function alertRow(a: Alert): NonNullable<EvidencePack["alerts"]>[number] {
  return {
    id: a.id,
    rule: a.rule,
    severity: a.severity,
    from: formatRfc3339Micros(a.ts_from),
    to: formatRfc3339Micros(a.ts_to),
    reason: a.reason,
    seqs: a.seqs,
    reviewed_by: a.ack?.by ?? null,
    reviewed_at: a.ack ? formatRfc3339Micros(a.ack.ts) : null,
    review_note: a.ack?.note ?? null,
  };
}

function sourceRow(c: Coverage): NonNullable<EvidencePack["sources"]>[number] {
  return { source: c.source, events: c.events, first: us(c.first), last: us(c.last) };
}

/** Builds the pack for [from, to) (µs, event time) over the first `upTo` events. */
export async function buildEvidence(
  deps: WebDeps,
  period: { from: number; to: number },
  opts: { by: string; upTo: number },
): Promise<EvidencePack> {
  const by = opts.by;
  const now = (deps.now ?? Date.now)();
  const dataDir = deps.store.dataDir;
  const [gaps, sources, alerts, cp, pub, configs] = await Promise.all([
    gapEvents(deps, period, opts.upTo),
    coverage(deps, period, opts.upTo),
    // One more than listed, to know whether the list is cut.
    deps.alerts
      ? deps.alerts.list({ from: period.from, to: period.to, limit: MAX_ALERTS + 1 })
      : null,
    latestCheckpoint(dataDir),
    readPublicKey(storePaths(dataDir).keys),
    latestConfigurations(deps, { upTo: opts.upTo, to: period.to }),
  ]);
  const latest = deps.access.verifyRuns.latest();
  const inPeriod = deps.access.verifyRuns.between(period.from / 1000, period.to / 1000);
  return {
    period: { from: formatRfc3339Micros(period.from), to: formatRfc3339Micros(period.to) },
    generated_at: iso(now),
    generated_by: by,
    appliance: {
      key_id: deps.store.keyId,
      store_events: deps.store.size,
      public_key_pem: publicKeyPem(pub),
    },
    sources: sources?.map(sourceRow) ?? null,
    gaps: gaps.events.map(gapRow),
    gaps_total: gaps.total,
    alerts: alerts?.slice(0, MAX_ALERTS).map(alertRow) ?? null,
    alerts_cut: (alerts?.length ?? 0) > MAX_ALERTS,
    verification: {
      latest: latest
        ? {
          ok: latest.ok,
          events: latest.events,
          checkpoints: latest.checkpoints,
          problem: latest.problem,
          byUser: latest.byUser,
          finished_at: iso(latest.finishedAt),
        }
        : null,
      runs_in_period: inPeriod.length,
    },
    checkpoint: cp
      ? {
        ...cp.checkpoint,
        signature_ok: cp.signatureOk,
        signed_at: formatRfc3339Micros(cp.checkpoint.ts),
      }
      : null,
    configuration: (configs ?? []).map((v) => ({
      source: v.source,
      db: v.db,
      seq: v.seq,
      read_at: formatRfc3339Micros(v.ts),
      reading: v.reading,
    })),
  };
}
