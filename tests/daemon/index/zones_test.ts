/**
 * Time windows are answered through the zones' times (`daemon/index/zones.ts`): split into seq
 * ranges, tested for time only at their edges. Whatever the order of event times — in order,
 * some far out of it, scattered past the ranges a window is split into — the index gives what
 * the in-memory filter gives, and so after retention dropped the head.
 */

import assert from "node:assert/strict";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { type EventFilter, selectEvents } from "../../../daemon/index/filter.ts";
import { ZONE_SIZE } from "../../../daemon/index/zones.ts";
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
