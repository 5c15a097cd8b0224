/**
 * `vigil bench detect`: events per second through feature extraction, the rules and the models
 * (windows closing, per-role Isolation Forests and DBSCAN retrained and scored), against durable
 * store append of the very same events in the same run — detection keeps up with intake when
 * the ratio is ≥ 1. The events are a seeded fortnight of work by a dozen roles with a daily
 * rhythm, so that windows close and models train as they would in production. Then the same
 * events measure the start of detection (`bench_start.ts`): a snapshot loaded and caught up
 * against a full replay of the log, time and peak RSS, each start in a process of its own.
 */

import type { AuditEvent, NewEvent } from "../event/model.ts";
import { Store } from "../store/store.ts";
import type { BenchResult } from "../bench/store_bench.ts";
import { AlertStore } from "./alert_store.ts";
import { benchDetectStart, START_TAIL } from "./bench_start.ts";
import { defaultDetectConfig } from "./config.ts";
import { DetectEngine } from "./engine.ts";
import { seededRandom } from "./prng.ts";

const HOUR = 3_600_000_000;
const DAYS = 14;
const START = Date.UTC(2026, 0, 5) * 1000;

/** `n` deterministic events over a fortnight, in event-time order. */
export function benchEvents(n: number, seed = 1): NewEvent[] {
  const r = seededRandom(seed);
  const roles = Array.from({ length: 12 }, (_, i) => ({
    role: ["app", "svc", "dba", "analyst"][i % 4]! + i,
    addr: `10.0.${i}.${10 + (i % 3)}`,
    objects: Array.from({ length: 4 + (i % 4) * 6 }, (_, k) => `s${i % 3}.t${k}`),
    // Services work round the clock, people by day.
    day: i % 4 < 2 ? [0, 24] : [8, 18],
  }));
  const span = DAYS * 24 * HOUR;
  const out: NewEvent[] = [];
  for (let i = 0; i < n; i++) {
    const p = roles[Math.floor(r() * roles.length)]!;
    let ts = START + Math.floor((i / n) * span);
    const h = Math.floor(ts / HOUR) % 24;
    // Off their hours, people's events move into the working day of the same date.
    if (h < p.day[0]! || h >= p.day[1]!) ts = ts - h * HOUR + (p.day[0]! + (i % 8)) * HOUR;
    const obj = p.objects[Math.floor(r() * p.objects.length)]!;
    const x = r();
    const cls = x < 0.7 ? "READ" : x < 0.98 ? "WRITE" : "DDL";
    const ev: NewEvent = {
      ts,
      source: "bench",
      kind: "session",
      db: "billing",
      role: p.role,
      client_addr: p.addr,
      application_name: "bench",
      session_id: `${p.role}.${Math.floor(ts / HOUR)}`,
      class: cls,
      command: cls === "READ" ? "SELECT" : cls === "WRITE" ? "UPDATE" : "CREATE INDEX",
      object: obj,
      object_type: "TABLE",
      statement: `${cls === "READ" ? "SELECT * FROM" : "UPDATE"} ${obj} WHERE id = ${i}`,
    };
    if (x > 0.999) {
      ev.kind = "auth";
      ev.sqlstate = "28P01";
      ev.command = "LOGIN FAILED";
    }
    out.push(ev);
  }
  return out.sort((a, b) => a.ts - b.ts);
}

/** Events per round: a round is appended, then detected, so both see the same machine load. */
const ROUND = 20_000;

/**
 * Runs the detection benchmark: throughput (one line) and, unless `start` is false, the start
 * with a snapshot against a full replay (two lines).
 */
export async function benchDetect(
  opts: { events: number; dir: string; start?: boolean },
): Promise<BenchResult[]> {
  const events = benchEvents(opts.events);
  const batch = 1000;
  const config = { ...defaultDetectConfig(), sensitive_objects: ["s2.*"] };
  const store = await Store.open(`${opts.dir}/store`, {
    checkpointIntervalMs: 0,
    maxSegmentBytes: 256 * 1024 * 1024,
  });
  const alerts = AlertStore.open(`${opts.dir}/alerts.db`);
  const engine = new DetectEngine(config, { alerts });
  let appendMs = 0;
  let detectMs = 0;
  try {
    for (let r0 = 0; r0 < events.length; r0 += ROUND) {
      const round = events.slice(r0, r0 + ROUND);
      // Reference: durable append as in `vigil bench store`, eight batches in flight.
      let next = 0;
      const a0 = performance.now();
      await Promise.all(Array.from({ length: 8 }, async (_, k) => {
        while (next < round.length) {
          const start = next;
          next += batch;
          await store.append({
            source: `bench${k % 4}`,
            events: round.slice(start, start + batch),
          });
        }
      }));
      appendMs += performance.now() - a0;
      const records = round.map((e, i) => ({
        seq: r0 + i,
        event: { ...e, seq: r0 + i, ingest_ts: e.ts } as AuditEvent,
      }));
      const d0 = performance.now();
      for (let i = 0; i < records.length; i += batch) engine.feed(records.slice(i, i + batch));
      if (r0 + ROUND >= events.length) engine.flush();
      detectMs += performance.now() - d0;
    }
  } finally {
    await store.close();
  }
  let windows = 0;
  for (const p of engine.profiles.values()) windows += p.windows;
  const found = alerts.list().length;
  alerts.close();

  const rate = Math.round(events.length / detectMs * 1000);
  const ref = Math.round(events.length / appendMs * 1000);
  const out: BenchResult[] = [{
    bench: "detect.events",
    value: rate,
    unit: "events/s",
    reference: { name: "store append of the same events, same run", value: ref },
    ratio: Number((rate / ref).toFixed(3)),
    events: events.length,
    windows,
    alerts: found,
  }];
  if (opts.start === false) return out;
  const tail = benchEvents(Math.min(START_TAIL, Math.ceil(opts.events / 10)), 2);
  return [...out, ...await benchDetectStart({ dir: opts.dir, config, events, tail })];
}
