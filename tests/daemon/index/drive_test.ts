/**
 * Both ways the index answers a text search — walking rows and keeping the trigram index's
 * candidates, or walking those candidates in seq order (see `Drive` in `filter_sql.ts`) —
 * nominate every event the in-memory matcher selects, page after page, with text alone and with
 * other filters; tested against the events, they give exactly its answer.
 */

import assert from "node:assert/strict";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { EventIndex } from "../../../daemon/index/event_index.ts";
import {
  compileFilter,
  type EventFilter,
  matchesCompiled,
  selectEvents,
} from "../../../daemon/index/filter.ts";
import { event, prng, records, searched, seqs, T0, withIndex } from "./_events.ts";

type Rand = () => number;

const ROLES = ["alice", "bob", "etl", "Alice"];
const TABLES = ["public.payments", "hr.salaries", "public.Ledger", "pg_catalog.pg_class"];
const WORDS = ["select", "UPDATE", "iban", "x", "ÉTÉ", "'%a%'", '"q"', "NEAR(a b)", "-- c"];
const TOKENS = ["payments", "PAYMENTS", "hr.sal", "iban", "ledger", "été", "x", "a", "'%", '"q"'];
const SPAN = 50_000_000;

function pick<T>(rand: Rand, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

/** Events whose time is not in seq order, as sources with their own clocks give. */
function randomEvent(rand: Rand, seq: number): AuditEvent {
  const ev = event(seq, { ts: T0 + Math.floor(rand() * SPAN), role: pick(rand, ROLES) });
  if (rand() < 0.7) {
    const words = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick(rand, WORDS));
    ev.statement = `${words.join(" ")} FROM ${pick(rand, TABLES)}`;
  }
  if (rand() < 0.1) ev.error = `relation ${pick(rand, TABLES)} does not exist`;
  return ev;
}

function randomFilter(rand: Rand): EventFilter {
  const f: EventFilter = {
    text: Array.from({ length: 1 + Math.floor(rand() * 2) }, () => pick(rand, TOKENS)).join(" "),
    order: rand() < 0.7 ? "desc" : "asc",
  };
  if (rand() < 0.4) f.role = pick(rand, ROLES);
  if (rand() < 0.3) f.from = T0 + Math.floor(rand() * SPAN);
  if (rand() < 0.3) f.to = T0 + Math.floor(rand() * SPAN);
  return f;
}

/** Every match, fetched `size` at a time with a seq cursor, as the Events page pages. */
function pages(index: EventIndex, f: EventFilter, size: number): number[][] {
  const out: number[][] = [];
  let cursor: number | undefined;
  // A page that did not move past its cursor would repeat forever; the walk cannot be longer.
  for (let n = 0; n <= 1000; n++) {
    const bound = f.order === "desc" ? { beforeSeq: cursor } : { afterSeq: cursor };
    const page = index.seqs({ ...f, ...bound, limit: size });
    if (page.length === 0) return out;
    out.push(page);
    cursor = page[page.length - 1];
  }
  throw new Error(`Paging ${JSON.stringify(f)} did not end`);
}

for (const drive of ["rows", "text", "auto"] as const) {
  Deno.test(`EventIndex.seqs() driven by ${drive} pages text searches as matchesCompiled() selects`, async () => {
    const rand = prng(drive.length * 101);
    const events = Array.from({ length: 600 }, (_, i) => randomEvent(rand, i));
    await withIndex((writer, path) => {
      writer.add(records(events));
      const index = EventIndex.open(path, { readonly: true, drive });
      try {
        for (let i = 0; i < 60; i++) {
          const f = randomFilter(rand);
          const where = `filter ${i}: ${JSON.stringify(f)}`;
          const c = compileFilter(f);
          const want = events.filter((ev) => matchesCompiled(ev, c)).map((ev) => ev.seq);
          if (f.order === "desc") want.reverse();
          const got = pages(index, f, 1 + Math.floor(rand() * 40));
          // The index holds trigrams, not text: its pages nominate, the events decide.
          const bySeq = new Map(events.map((ev) => [ev.seq, ev]));
          const tested = got.flat().filter((s) => matchesCompiled(bySeq.get(s)!, c));
          assert.deepEqual(tested, want, where);
          assert.deepEqual(searched(index, events, f), want, where);
          assert.ok(index.count(f) >= want.length, where);
        }
      } finally {
        index.close();
      }
    });
  });
}

Deno.test("EventIndex.seqs() driven by text bounds both ends of a seq range", async () => {
  const events = Array.from(
    { length: 50 },
    (_, i) => event(i, { statement: i % 3 === 0 ? "SELECT * FROM payments" : "SELECT 1" }),
  );
  await withIndex((writer, path) => {
    writer.add(records(events));
    const index = EventIndex.open(path, { readonly: true, drive: "text" });
    try {
      for (const order of ["asc", "desc"] as const) {
        const f: EventFilter = { text: "Payments", afterSeq: 9, beforeSeq: 40, order, limit: 4 };
        assert.deepEqual(searched(index, events, f), seqs(selectEvents(events, f)), order);
      }
    } finally {
      index.close();
    }
  });
});

Deno.test("EventIndex.seqs() driven by text tests attributed conditions on each span's rows", async () => {
  const users = ["ada", "grace", "linus"];
  const events = Array.from(
    { length: 90 },
    (_, i) =>
      event(i, {
        statement: i % 4 === 0 ? "SELECT * FROM payments" : "SELECT 1",
        app_user: users[i % 3]!,
      }),
  );
  await withIndex((writer, path) => {
    // Small batches too: several span rows in one block.
    writer.add(records(events.slice(0, 30)));
    for (const e of events.slice(30, 45)) writer.add(records([e]));
    writer.add(records(events.slice(45)));
    const index = EventIndex.open(path, { readonly: true, drive: "text" });
    try {
      for (const order of ["asc", "desc"] as const) {
        for (const app_user of users) {
          const f: EventFilter = { text: "payments", app_user, order, limit: 5 };
          const want = seqs(selectEvents(events, f));
          assert.ok(want.length > 0, "the filter selects something");
          assert.deepEqual(searched(index, events, f), want, `${order} ${app_user}`);
          const all = seqs(selectEvents(events, { ...f, limit: undefined }));
          for (const s of all) assert.ok(index.seqs({ ...f, limit: undefined }).includes(s));
        }
      }
    } finally {
      index.close();
    }
  });
});
