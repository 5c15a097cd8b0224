/**
 * Time windows are answered through the zones' times (`daemon/index/zones.ts`): split into seq
 * ranges, tested for time only at their edges. Whatever the order of event times — in order,
 * some far out of it, scattered past the ranges a window is split into — the index gives what
 * the in-memory filter gives, and so after retention dropped the head. A few events far out of
 * order list their zone rather than widen the seek of every window.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { type EventFilter, selectEvents } from "../../../daemon/index/filter.ts";
import { MAX_WIDE_ZONES, ZONE_SIZE, zoneReach } from "../../../daemon/index/zones.ts";
import { event, prng, records, seqs, T0, withIndex } from "./_events.ts";

const N = ZONE_SIZE * 6 + 100;
const S = 1_000_000;

/** Event times: mostly in seq order; `late` of them far earlier, `scatter` of them random. */
function events(shape: "ordered" | "late" | "scatter"): AuditEvent[] {
  const rand = prng(7);
  return Array.from({ length: N }, (_, i) => {
    let ts = T0 + i * S;
    if (shape === "late" && i % 97 === 5) ts = T0 + Math.floor(rand() * i) * S;
    if (shape === "scatter" && i % 13 === 0) ts = T0 + Math.floor(rand() * N) * S;
    return event(i, { ts, role: ["alice", "bob"][i % 2]!, kind: i % 3 ? "object" : "auth" });
  });
}

function windows(): EventFilter[] {
  const rand = prng(11);
  const out: EventFilter[] = [];
  for (let k = 0; k < 40; k++) {
    const a = Math.floor(rand() * N), len = Math.floor(rand() * ZONE_SIZE * 3);
    const f: EventFilter = { from: T0 + a * S, to: T0 + (a + len) * S };
    if (k % 4 === 1) delete f.from;
    if (k % 4 === 2) delete f.to;
    if (k % 3 === 0) f.role = "bob";
    if (k % 5 === 0) f.kind = "auth";
    out.push(f);
  }
  return out;
}

for (const shape of ["ordered", "late", "scatter"] as const) {
  Deno.test(`EventIndex answers time windows as the filter does (${shape} times)`, async () => {
    await withIndex((index) => {
      const evs = events(shape);
      index.add(records(evs));
      for (const w of windows()) {
        for (const order of ["asc", "desc"] as const) {
          for (const limit of [undefined, 7]) {
            const f = { ...w, order, limit };
            assert.deepEqual(index.seqs(f), seqs(selectEvents(evs, f)), JSON.stringify(f));
          }
        }
        assert.equal(index.count(w), selectEvents(evs, w).length, JSON.stringify(w));
      }
      // Retention drops the head, zones and all; what is left still answers whole.
      const cut = ZONE_SIZE * 2 + 17;
      while (index.dropBefore(cut));
      const left = evs.filter((e) => e.seq >= cut);
      for (const w of windows()) {
        assert.deepEqual(index.seqs(w), seqs(selectEvents(left, w)), JSON.stringify(w));
      }
    });
  });
}

/** The seek width and the listed zones, as the index holds them. */
function reach(path: string): { width: number; wide: number[] } {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const { width, wide } = zoneReach(db);
    return { width: width!, wide };
  } finally {
    db.close();
  }
}

Deno.test("A few events far out of time order list their zone instead of widening every seek", async () => {
  await withIndex((index, path) => {
    // In order, a second apart; then, in the last zone, events a year later (what the daemon
    // writes of itself after a bulk fill of old events), and one far earlier in zone 2.
    const YEAR = 365 * 86_400 * S;
    const evs = Array.from({ length: N }, (_, i) =>
      event(i, {
        ts: T0 + i * S + (i >= N - 40 ? YEAR : 0) - (i === 2 * ZONE_SIZE + 9 ? YEAR : 0),
        role: ["alice", "bob"][i % 2]!,
      }));
    for (let at = 0; at < N; at += 500) index.add(records(evs.slice(at, at + 500)));
    const last = Math.floor((N - 1) / ZONE_SIZE);
    const { width, wide } = reach(path);
    assert.deepEqual(wide, [2, last]);
    assert.ok(width < ZONE_SIZE * S, `seek width ${width} µs: a zone's span, not a year`);
    const spans: EventFilter[] = [
      { from: T0 + 100 * S, to: T0 + 2000 * S },
      { from: T0 + (N - 200) * S, to: T0 + N * S },
      { from: T0 + YEAR, to: T0 + YEAR + 2 * N * S },
      { from: T0 - YEAR, to: T0 },
      { from: T0 + 3 * ZONE_SIZE * S, role: "bob" },
      { to: T0 + 2 * ZONE_SIZE * S + 50 * S },
    ];
    for (const w of spans) {
      for (const order of ["asc", "desc"] as const) {
        const f = { ...w, order };
        assert.deepEqual(index.seqs(f), seqs(selectEvents(evs, f)), JSON.stringify(f));
      }
    }
    // Retention forgets the listed zones it drops.
    while (index.dropBefore(3 * ZONE_SIZE));
    assert.deepEqual(reach(path).wide, [last]);
  });
});

Deno.test("Zones far out of time order past the list's room widen the seek, and are still found", async () => {
  await withIndex((index, path) => {
    const DAY = 86_400 * S;
    const n = ZONE_SIZE * (MAX_WIDE_ZONES + 4);
    // One event a zone past the first, a week out of order: each far wider than the first.
    const evs = Array.from(
      { length: n },
      (_, i) =>
        event(i, { ts: T0 + i * S + (i >= ZONE_SIZE && i % ZONE_SIZE === 7 ? 7 * DAY : 0) }),
    );
    for (let at = 0; at < n; at += ZONE_SIZE) index.add(records(evs.slice(at, at + ZONE_SIZE)));
    const { width, wide } = reach(path);
    assert.equal(wide.length, MAX_WIDE_ZONES);
    assert.ok(width > 7 * DAY - ZONE_SIZE * S, "past the list, the width takes them in");
    for (const f of [{ from: T0 + 7 * DAY, to: T0 + 8 * DAY }, { from: T0 + 5000 * S }]) {
      assert.deepEqual(index.seqs(f), seqs(selectEvents(evs, f)), JSON.stringify(f));
    }
  });
});

Deno.test("An index written before zones were listed gets its list at its next add", async () => {
  await withIndex((index, path) => {
    const YEAR = 365 * 86_400 * S;
    const n = ZONE_SIZE * (MAX_WIDE_ZONES + 8);
    const evs = Array.from(
      { length: n },
      (_, i) => event(i, { ts: T0 + i * S + (i === 5 * ZONE_SIZE + 3 ? YEAR : 0) }),
    );
    index.add(records(evs));
    // As the writer before lists left it: no list, the width that takes in the wide zone.
    const db = new DatabaseSync(path);
    try {
      db.exec(`DELETE FROM meta WHERE key = 'zone_wide'`);
      db.exec(`UPDATE meta SET value = (SELECT max(max_ts - min_ts) FROM zones)
        WHERE key = 'zone_width'`);
    } finally {
      db.close();
    }
    assert.deepEqual(reach(path).wide, []);
    assert.ok(reach(path).width >= YEAR - 5 * ZONE_SIZE * S);
    const more = event(n, { ts: T0 + n * S });
    index.add(records([more]));
    assert.deepEqual(reach(path).wide, [5]);
    assert.ok(reach(path).width < ZONE_SIZE * S, "the width of the others");
    const all = [...evs, more];
    for (const f of [{ from: T0 + YEAR - S, to: T0 + YEAR + S }, { from: T0 + 5000 * S }]) {
      assert.deepEqual(index.seqs(f), seqs(selectEvents(all, f)), JSON.stringify(f));
    }
  });
});
