/**
 * The log read on a Worker for the index's writer gives the events SeqReader.scan gives, batch
 * for batch, as the columns the writer stores, with their full-text rows and the attribution
 * join's rows; and an index built that way (`vigil reindex`) holds the same rows as one the
 * daemon's own catch-up built event by event.
 */

import { DatabaseSync } from "node:sqlite";
import type { NewEvent } from "../../../daemon/event/model.ts";
import { EventIndex, indexPath } from "../../../daemon/index/event_index.ts";
import { attachIndex } from "../../../daemon/index/feed.ts";
import { FIELD_SHIFT } from "../../../daemon/index/field_keys.ts";
import { ColumnStrings, NAME_COLUMNS } from "../../../daemon/index/index_columns.ts";
import { LinkFeed } from "../../../daemon/index/link_feed.ts";
import { type LogBatch, logBatches } from "../../../daemon/index/log_batches.ts";
import { foldText } from "../../../daemon/index/text.ts";
import { eventSpanRows } from "../../../daemon/index/text_spans.ts";
import { SeqReader, type SeqRecord } from "../../../daemon/store/seq_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { runVigil, spawnVigil } from "../../support/cli.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

const NO_TIMER = { checkpointIntervalMs: 0, hashWorker: false };
const EMPTY_JOIN = new LinkFeed().save();

Deno.test("logBatches() reads the log on a Worker as SeqReader.scan() does, in columns", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, NO_TIMER);
    try {
      for (let i = 0; i < 3000; i += 500) {
        const events = Array.from({ length: 500 }, (_, k) => {
          const ev = testEvent(i + k, {
            new_row: { id: String(i + k), note: `Row ${i + k}` },
            ...(k % 7 === 0 ? { error: `Relation T${k} Does Not Exist`, rows: k } : {}),
          });
          if (k % 11 === 0) delete ev.db, delete ev.role;
          return ev;
        });
        await store.append({ source: "test", events });
      }
    } finally {
      await store.close();
    }
    const reader = await SeqReader.open(dir);
    const want: SeqRecord[][] = [];
    for await (const b of reader.scan(100, 2900, { chunk: 1024 })) want.push(b);
    const got: LogBatch[] = [];
    const strings = new ColumnStrings();
    const range = { from: 100, to: 2900, chunk: 1024, most: 1024 };
    for await (const group of logBatches(dir, range, EMPTY_JOIN)) {
      assert(group.length <= 2, "a batch a group, and the join's last state");
      for (const b of group) {
        strings.take(b.cols);
        got.push(b);
      }
    }
    // The last "batch" carries the join's final state alone.
    const last = got.pop()!;
    assertEquals(last.cols.seqs.length, 0);
    assertEquals(last.fed.state?.seq, 2899);
    assertEquals(got.map((b) => b.cols.seqs.length), want.map((b) => b.length));
    const feed = new LinkFeed();
    let texts = 0;
    for (let k = 0; k < got.length; k++) {
      const { cols, fed } = got[k]!, events = want[k]!;
      assertEquals(fed.rows, feed.feed(events), "the join's rows, as the writer's own join");
      assertEquals(cols.spans, eventSpanRows(events));
      texts += cols.spans.length;
      for (let i = 0; i < events.length; i++) {
        const ev = events[i]!.event;
        assertEquals([cols.seqs[i], cols.ts[i]], [ev.seq, ev.ts]);
        assertEquals(cols.rows[i], ev.rows ?? NaN);
        const names = NAME_COLUMNS.map((_, c) => strings.of(cols.names[i * 6 + c]!));
        const command = ev.command === undefined ? undefined : foldText(ev.command);
        assertEquals(names, [ev.source, ev.kind, ev.db, ev.object, ev.role, command]);
      }
    }
    assert(texts > 0);
    assert(
      got.some((b) => b.cols.spans.some((s) => String(s).includes("relation t0 does not exist"))),
      "error text folded",
    );

    // A writer slower than the Worker takes what has arrived, up to `most` events at a time.
    const groups: number[][] = [];
    const slow = { from: 100, to: 2900, chunk: 512, most: 1600 };
    for await (const group of logBatches(dir, slow, EMPTY_JOIN)) {
      groups.push(group.map((b) => b.cols.seqs.length));
      await new Promise((r) => setTimeout(r, 100));
    }
    assertEquals(groups.flat().reduce((a, b) => a + b), 2800);
    assert(groups.some((g) => g.length > 1), `groups ${JSON.stringify(groups)}`);
    assert(groups.every((g) => g.reduce((a, b) => a + b) <= 1600), JSON.stringify(groups));

    // Broken off early, it ends its Worker (the test's leak check would catch one left running).
    for await (
      const g of logBatches(dir, { from: 0, to: 3000, chunk: 512, most: 512 }, EMPTY_JOIN)
    ) {
      assertEquals(g[0]!.cols.seqs[0], 0);
      break;
    }
    let none = 0;
    const past = { from: 3000, to: 4000, chunk: 512, most: 4096 };
    for await (const g of logBatches(dir, past, EMPTY_JOIN)) {
      for (const b of g) none += b.cols.seqs.length;
    }
    assertEquals(none, 0, "past the log's end");
  });
});

/** The scale of a session: a pgAudit line, two row changes and the statement message. */
function session(i: number): NewEvent[] {
  const T = 1_800_000_000_000_000 + i * 10_000_000;
  const session = `s${i % 97}.${i}`, xid = 1000 + i;
  const line: NewEvent = {
    ts: T,
    source: "log",
    kind: "session",
    db: "shop",
    role: ["alice", "bob"][i % 2]!,
    audit_type: "SESSION",
    class: "WRITE",
    command: "UPDATE",
    session_id: session,
    application_name: `app${i % 13}`,
    statement: `UPDATE public.t${i % 3} SET note = $1 WHERE id = $2`,
    params: [`Note ${i}`, String(i)],
    rows: 2,
  };
  const row = (k: number): NewEvent => ({
    ts: T + 500 + k,
    source: "wal",
    kind: "row_change",
    db: "shop",
    xid,
    object: `public.t${i % 3}`,
    new_row: { id: String(i), note: `Note ${i} ${k}` },
  });
  const stmt: NewEvent = {
    ts: T + 600,
    source: "wal",
    kind: "message",
    command: "STATEMENT",
    db: "shop",
    xid,
    object: `public.t${i % 3}`,
    session_id: session,
    client_addr: `10.0.${i % 7}.9`,
    context: { op: "UPDATE", stmt_ts: new Date((T + 100) / 1000).toISOString() },
  };
  return [line, row(0), row(1), stmt];
}

Deno.test("logBatches() sends the join's state at the ends of blocks of fields rows, and at the end", async () => {
  await withTempDir(async (dir) => {
    const sessions = 34_000;
    const store = await Store.open(dir, NO_TIMER);
    try {
      for (let i = 0; i < sessions; i += 2000) {
        const events = [];
        for (let k = i; k < i + 2000; k++) events.push(...session(k));
        await store.append({ source: "test", events });
      }
    } finally {
      await store.close();
    }
    const n = sessions * 4;
    const states: number[] = [];
    let fields = 0;
    const range = { from: 0, to: n, chunk: 8192, most: 32_768 };
    for await (const group of logBatches(dir, range, EMPTY_JOIN)) {
      for (const b of group) {
        fields += b.fed.rows.fields.length / 3;
        if (b.fed.state) states.push(b.fed.state.seq);
      }
    }
    // The writer holds each batch's fields rows until a state comes (links.ts): at a block's
    // end (fieldOffset 0 next), a block's rows go in together.
    assertEquals(states, [2 ** FIELD_SHIFT - 1, 2 * 2 ** FIELD_SHIFT - 1, n - 1]);
    assert(fields > n, `every event's fields and its statement's: ${fields}`);
  });
});

/** A store of `sessions` sessions (`session()`), indexed by the daemon's own catch-up. */
async function storeOfSessions(dir: string, sessions: number): Promise<void> {
  const store = await Store.open(dir, NO_TIMER);
  try {
    for (let i = 0; i < sessions; i += 1000) {
      const events = [];
      for (let k = i; k < Math.min(sessions, i + 1000); k++) events.push(...session(k));
      await store.append({ source: "test", events });
    }
    const feed = await attachIndex(store);
    await feed.drain();
    await feed.close();
  } finally {
    await store.close();
  }
}

/** Every table's rows, and what the full-text table matches, of the index at `path`. */
function dump(path: string): Record<string, unknown> {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const out: Record<string, unknown> = {};
    for (const t of ["names", "events", "fields", "attribution", "logged", "row_counts", "tally"]) {
      out[t] = db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all();
    }
    out.zones = db.prepare("SELECT * FROM zones ORDER BY zone").all();
    for (const term of ["note 12", "public.t2", "app7", "99"]) {
      out[term] = db.prepare("SELECT rowid FROM events_text WHERE events_text MATCH ? ORDER BY 1")
        .all(`"${term.slice(0, 3)}" AND "${term.slice(-3)}"`);
    }
    return out;
  } finally {
    db.close();
  }
}

Deno.test("vigil reindex, reading the log on its Worker, builds the rows the daemon's catch-up builds", async () => {
  await withTempDir(async (dir) => {
    // 50k events or more: `feed.ts` reads them on the Worker.
    const sessions = 13_500;
    await storeOfSessions(dir, sessions);
    const n = sessions * 4;
    const daemons = dump(indexPath(dir));
    const r = await runVigil(["reindex", "--data", dir]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(dump(indexPath(dir)), daemons);
    const index = EventIndex.open(indexPath(dir), { readonly: true });
    try {
      assertEquals(index.claims(), { first: 0, last: n - 1 });
      assertEquals(index.attribution(n - 3), { statement: n - 1, line: n - 4 });
      assertEquals(index.attribution(n - 1), { line: n - 4, rows: [n - 3, n - 2] });
      assertEquals(index.count({ client_addr: "10.0.3.9", kind: "row_change" }), 2 * 1929);
      assertEquals(index.linksFrom(), n - 1, "the join's state saved at the end");
    } finally {
      index.close();
    }
  });
});

Deno.test("vigil reindex killed while its Worker feeds it: the next attach completes the same index", async () => {
  await withTempDir(async (dir) => {
    const sessions = 40_000;
    await storeOfSessions(dir, sessions);
    const n = sessions * 4;
    const whole = dump(indexPath(dir));
    // Gone, so that what a reader sees below is the rebuild's own progress.
    for (const end of ["", "-wal", "-shm"]) await Deno.remove(indexPath(dir) + end).catch(() => {});

    const child = spawnVigil(["reindex", "--data", dir]);
    let indexed = -1;
    try {
      // Killed once a few of its batches are in, well before its end.
      for (let tries = 0; tries < 3000 && indexed < 40_000; tries++) {
        await new Promise((r) => setTimeout(r, 10));
        indexed = lastIndexed(indexPath(dir));
      }
      child.kill("SIGKILL");
    } finally {
      await child.output();
    }
    assert(indexed >= 40_000 && indexed < n - 1, `killed at ${indexed} of ${n}`);

    const again = await Store.open(dir, NO_TIMER);
    try {
      const feed = await attachIndex(again);
      await feed.drain();
      await feed.close();
    } finally {
      await again.close();
    }
    assertEquals(dump(indexPath(dir)), whole);
    const db = new DatabaseSync(indexPath(dir), { readOnly: true });
    try {
      const names = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index'").all();
      assert(names.some((r) => r.name === "events_role"), "secondary indexes made again");
    } finally {
      db.close();
    }
  });
});

/** The largest seq in the index at `path` as a reader sees it now; -1 for none or no file. */
function lastIndexed(path: string): number {
  try {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      return Number(db.prepare("SELECT max(seq) AS m FROM events").get()?.m ?? -1);
    } finally {
      db.close();
    }
  } catch {
    return -1;
  }
}
