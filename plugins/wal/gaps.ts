/**
 * Gaps are alarms: what the WAL source checks when it starts, before it streams, and the
 * `system` events it stores about what it found. A gap is a stretch of committed changes the
 * store can no longer get: the slot was dropped or invalidated (its WAL is gone), someone else
 * advanced or consumed it, the database behind the DSN is another cluster, or its WAL is behind
 * what the store holds (a restore). The source stores a `WAL_GAP` event, with the LSNs, before
 * it goes on from where the slot now is — so the chain shows the hole instead of hiding it.
 *
 * Why "slot ahead of the store" can be trusted: the source confirms a slot only up to what the
 * store holds, keepalives included (`holdKeepalives`), and stores the cluster's system id with
 * its position from then on. A position without a system id was written before keepalives were
 * held, when a slot could legitimately be a little ahead; for it that check is skipped.
 */

import type { JsonObject, NewEvent } from "../../daemon/event/model.ts";
import type { EventOrigin } from "./change_events.ts";
import { formatLsn } from "./lsn.ts";
import { formatWalPosition, type WalPosition } from "./position.ts";
import type { SlotInfo } from "./replication.ts";

/** The commands of the WAL source's `system` events. */
export type WalAlarm =
  | "WAL_GAP"
  | "WAL_HEARTBEAT_MISSING"
  | "WAL_HEARTBEAT_RESTORED"
  | "WAL_DDL_TRIGGER_MISSING"
  | "WAL_LSN_BACKWARDS";

/** What the source knows at start, before it touches the slot. */
export interface StartFacts {
  slot: string;
  /** `host:port` of the server, for messages. */
  server: string;
  /** The store's position; undefined on the first start (nothing to miss yet). */
  stored: WalPosition | undefined;
  /** IDENTIFY_SYSTEM: the cluster's system identifier and its current WAL end. */
  systemId: string;
  walEnd: bigint;
  /** The slot as found, before the source creates it if missing. */
  found: SlotInfo | undefined;
}

/** Why the store has a hole. */
export type GapReason =
  | "system_changed"
  | "wal_behind"
  | "slot_missing"
  | "slot_lost"
  | "slot_advanced";

/** A gap found at start. */
export interface Gap {
  reason: GapReason;
  /** What happened, with the LSNs; the source adds where collection goes on. */
  why: string;
  /** The slot cannot serve any more: drop it and create it anew. */
  recreate: boolean;
  /** The stored position no longer applies (another WAL history): resume from the slot only. */
  reset: boolean;
}

/** The end of what the store holds of the stream: its end LSN or a later message. */
export function storedEnd(p: WalPosition): bigint {
  return p.message !== null && p.message > p.ack ? p.message : p.ack;
}

/** The gap the facts show, or undefined when the store can resume where it is. */
export function findGap(f: StartFacts): Gap | undefined {
  const p = f.stored;
  if (p === undefined) return undefined;
  const end = storedEnd(p);
  const slot = `slot "${f.slot}" on ${f.server}`;
  const gap = (reason: GapReason, why: string, more: Partial<Gap> = {}): Gap => ({
    reason,
    why: `${slot}: ${why}`,
    recreate: false,
    reset: false,
    ...more,
  });
  if (p.system !== undefined && p.system !== f.systemId) {
    return gap(
      "system_changed",
      `the server's system identifier is ${f.systemId}, but the store's position ` +
        `${formatLsn(end)} is of system ${p.system}: the database behind the DSN was replaced ` +
        `(a new cluster or a restore elsewhere), and what was committed there after ` +
        `${formatLsn(end)} was not collected`,
      { reset: true },
    );
  }
  if (f.walEnd < end) {
    return gap(
      "wal_behind",
      `the server's WAL ends at ${formatLsn(f.walEnd)}, behind the store's position ` +
        `${formatLsn(end)}: the database was restored from a backup or its WAL was reset, so ` +
        `LSNs after ${formatLsn(f.walEnd)} now name other changes than the stored ones`,
      { reset: true },
    );
  }
  if (f.found === undefined) {
    return gap(
      "slot_missing",
      `the slot is missing (it was dropped) although the store holds the stream up to ` +
        `${formatLsn(end)}; changes committed after ${formatLsn(end)} until the slot is made ` +
        `again were not collected`,
    );
  }
  if (f.found.walStatus === "lost") {
    return gap(
      "slot_lost",
      `the slot was invalidated (wal_status "lost": the server removed WAL it still needed, ` +
        `see max_slot_wal_keep_size) at restart LSN ` +
        `${f.found.restartLsn === null ? "unknown" : formatLsn(f.found.restartLsn)}; changes ` +
        `committed after the store's position ${formatLsn(end)} were not collected`,
      { recreate: true },
    );
  }
  const confirmed = f.found.confirmedFlushLsn;
  if (p.system !== undefined && confirmed !== null && confirmed > end) {
    return gap(
      "slot_advanced",
      `the slot is confirmed up to ${formatLsn(confirmed)}, past the store's position ` +
        `${formatLsn(end)}, which this source never does: someone else advanced or consumed ` +
        `the slot, and changes committed between ${formatLsn(end)} and ` +
        `${formatLsn(confirmed)} were not collected`,
    );
  }
  return undefined;
}

/**
 * Where the store resumes after `gap`, given the slot's confirmed position now: from the slot.
 * The part of a large transaction already stored is kept when the server will send that
 * transaction again (its commit is not behind the slot).
 */
export function positionAfterGap(
  stored: WalPosition,
  gap: Gap,
  slotConfirmed: bigint,
  systemId: string,
): WalPosition {
  if (gap.reason !== "slot_advanced") {
    return { ack: slotConfirmed, partial: null, message: null, system: systemId };
  }
  return advancedTo(stored, slotConfirmed, systemId);
}

/**
 * `p` moved to at least `lsn`, the slot's confirmed position, with `systemId`: the server sends
 * nothing that commits before the slot's position, so the store may as well hold it. What is
 * past `lsn` (the stored part of a transaction that commits later, a later message) is kept.
 * On a first start this makes the first stored position the slot's, not 0/0.
 */
export function advancedTo(p: WalPosition, lsn: bigint, systemId: string): WalPosition {
  if (lsn <= p.ack) return { ...p, system: systemId };
  const partial = p.partial !== null && p.partial.commitLsn >= lsn ? p.partial : null;
  const message = p.message !== null && p.message > lsn ? p.message : null;
  return { ack: lsn, partial, message, system: systemId };
}

/** The `WAL_GAP` event of `gap`, saying where collection goes on. */
export function gapEvent(
  origin: EventOrigin,
  gap: Gap,
  stored: WalPosition,
  resume: WalPosition,
  nowUs: number,
): NewEvent {
  return alarmEvent(
    origin,
    "WAL_GAP",
    `${gap.why}; collection goes on from ${formatLsn(resume.ack)}`,
    {
      reason: gap.reason,
      store_position: formatWalPosition(stored),
      resume_position: formatWalPosition(resume),
    },
    nowUs,
  );
}

/**
 * A `system` event of the WAL source: `command` says what, `error` (absent for good news) says
 * what went wrong in words, `context` holds the details as JSON.
 */
export function alarmEvent(
  origin: EventOrigin,
  command: WalAlarm,
  error: string | undefined,
  context: JsonObject,
  nowUs: number,
): NewEvent {
  const ev: NewEvent = { ts: nowUs, source: origin.source, kind: "system", db: origin.db, command };
  if (error !== undefined) ev.error = error;
  ev.context = context;
  return ev;
}
