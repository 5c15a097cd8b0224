/**
 * The WAL source end to end against a real PostgreSQL 15: a mixed workload arrives in the store
 * complete and exact; the slot is acknowledged only up to what is durable; a PostgreSQL
 * restart mid-stream ends the run with an error (not a hang) and the next run loses and
 * doubles nothing. The large-transaction run is in `source_large_test.ts`.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import { runSource } from "../../../daemon/pipeline.ts";
import { SourceError } from "../../../daemon/source.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { parseSourcePos, parseWalPosition } from "../../../plugins/wal/position.ts";
import { walSource } from "../../../plugins/wal/mod.ts";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { startPostgres } from "../../support/postgres.ts";
import { withTempDir } from "../../support/store.ts";
import { confirmedFlush, MemoryStore, startRun, tableText } from "./_source_harness.ts";

const SLOT = "vigil_test";
const PUBLICATION = "vigil_test";
const NAME = "billing";

/** `command object id` of each row change, `kind command` of anything else. */
/** These tests count the stream's events; the configuration read-back is tested apart. */
const QUIET = { configCheckIntervalMs: 0 };

function shape(ev: NewEvent): string {
  if (ev.kind !== "row_change") return `${ev.kind} ${ev.command}`;
  const id = ev.new_row?.id ?? ev.old_row?.id;
  return `${ev.command} ${ev.object}${id === undefined ? "" : ` ${id}`}`;
}

Deno.test("walSource() stores a mixed workload complete and exact, values as PostgreSQL prints them", async () => {
  await using pg = await startPostgres();
  await pg.sql(
    `CREATE TABLE kinds (id int PRIMARY KEY, i8 int8, n numeric(38,10), ts timestamptz,
       jb jsonb, b bytea, t text, flag boolean);
     CREATE TABLE full_t (id int PRIMARY KEY, note text);
     ALTER TABLE full_t REPLICA IDENTITY FULL;`,
  );
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, { checkpointIntervalMs: 0 });
    const ac = new AbortController();
    const source = walSource({ ...QUIET, dsn: pg.dsn(), slot: SLOT, publication: PUBLICATION });
    const running = runSource(store, source, { name: NAME, signal: ac.signal });
    let failure: unknown;
    running.catch((e) => (failure = e));
    const stored = async (): Promise<NewEvent[]> => {
      if (failure) throw failure;
      const out: NewEvent[] = [];
      for await (const r of readLog(dir)) out.push(r.event);
      return out;
    };
    try {
      // The source makes the slot on its first start; what commits before that is not its own.
      await assertEventually(async () => (await confirmedFlush(pg, SLOT)) !== undefined);
      await pg.sql(
        `INSERT INTO kinds VALUES
           (1, 9223372036854775807, 1234567890123456789012345678.1234567890,
            '2024-02-29 23:59:59.999999+00', '{"b":1,  "a":[1, 2.50]}', '\\x00ff', E'tab\\there',
            true),
           (2, -9223372036854775808, -0.0000000001, '1999-12-31 23:59:59.000001-08', '[]',
            '\\x', '', NULL);
         INSERT INTO full_t VALUES (1, 'a'), (2, 'b');`,
      );
      const inserted = await tableText(pg, "kinds");
      await pg.sql(
        `BEGIN;
         SELECT pg_logical_emit_message(true, 'vigil.context', '{"user":"ada"}');
         UPDATE kinds SET i8 = i8 - 1, ts = ts + interval '1 microsecond' WHERE id = 1;
         UPDATE full_t SET note = 'a2' WHERE id = 1;
         DELETE FROM kinds WHERE id = 2;
         DELETE FROM full_t WHERE id = 2;
         COMMIT;
         TRUNCATE full_t;`,
      );
      const updated = await tableText(pg, "kinds");
      const events = await assertEventually(async () => {
        const evs = await stored();
        return evs.some((e) => e.command === "TRUNCATE") && evs;
      }, { message: "the TRUNCATE stored" });

      assertEquals(events.map(shape), [
        "INSERT public.kinds 1",
        "INSERT public.kinds 2",
        "INSERT public.full_t 1",
        "INSERT public.full_t 2",
        "message vigil.context",
        "UPDATE public.kinds 1",
        "UPDATE public.full_t 1",
        "DELETE public.kinds 2",
        "DELETE public.full_t 2",
        "TRUNCATE public.full_t",
      ]);
      const [ins1, ins2, , , context, upd1, updFull, del2, delFull] = events;
      // Every value exactly as format('%s', col) prints it: int8, numeric, timestamptz µs, jsonb.
      assertEquals(ins1!.new_row, inserted.get("1"));
      assertEquals(ins2!.new_row, inserted.get("2"));
      assertEquals(upd1!.new_row, updated.get("1"));
      assertEquals(upd1!.new_row?.ts, "2024-03-01 00:00:00+00"); // + 1 µs, exact
      assertEquals(ins1!.new_row?.jb, '{"a": [1, 2.50], "b": 1}');
      assertEquals(ins2!.new_row?.n, "-0.0000000001");
      // Old rows: the key for DEFAULT, the whole row for FULL.
      assertEquals(upd1!.old_row, undefined);
      assertEquals(updFull!.old_row, { id: "1", note: "a" });
      assertEquals(del2!.old_row, { id: "2" });
      assertEquals(delFull!.old_row, { id: "2", note: "b" });
      // The context is its own event and reaches the changes of its transaction.
      assertEquals(context!.context, { user: "ada" });
      for (const ev of [context!, upd1!, updFull!, del2!, delFull!]) {
        assertEquals(ev.xid, context!.xid);
        assertEquals(ev.ts, context!.ts);
        if (ev !== context) assertEquals([ev.context, ev.app_user], [{ user: "ada" }, "ada"]);
      }
      assertEquals(ins1!.context, undefined);
      // source_pos: commit LSN and index; the transactions in commit order.
      const places = events.map((e) => parseSourcePos(e.source_pos!));
      assertEquals(places.slice(4, 9).map((p) => p.index), [0, 1, 2, 3, 4]);
      for (let i = 1; i < places.length; i++) {
        const [a, b] = [places[i - 1]!, places[i]!];
        assert(a.commitLsn < b.commitLsn || (a.commitLsn === b.commitLsn && a.index < b.index));
      }
      for (const ev of events) assertEquals([ev.source, ev.db], [NAME, "postgres"]);
    } finally {
      ac.abort();
      await running.catch(() => {});
      await store.close();
    }
  });
});

Deno.test("walSource() acks the slot only up to what is durable, and a failed batch comes again", async () => {
  await using pg = await startPostgres();
  await pg.sql("CREATE TABLE t (id int PRIMARY KEY)");
  const mem = new MemoryStore();
  const source = walSource({ ...QUIET, dsn: pg.dsn(), slot: SLOT, publication: PUBLICATION });
  const first = startRun(source, (signal) => mem.context(NAME, signal));
  try {
    await assertEventually(async () => (await confirmedFlush(pg, SLOT)) !== undefined);
    assertEquals(
      await pg.sql(`SELECT puballtables FROM pg_publication WHERE pubname = '${PUBLICATION}'`),
      "t",
    );
    assertEquals(
      await pg.sql(`SELECT temporary FROM pg_replication_slots WHERE slot_name = '${SLOT}'`),
      "f",
    );
    await pg.sql("INSERT INTO t SELECT generate_series(1, 5)");
    await assertEventually(() => mem.insertedIds().length === 5, { message: "5 rows stored" });
    const durable = parseWalPosition(mem.position!).ack;
    assert(durable > parseSourcePos(mem.events[0]!.source_pos!).commitLsn);
    await assertEventually(async () => (await confirmedFlush(pg, SLOT))! >= durable, {
      message: "the slot confirmed up to the durable commit end",
    });

    mem.failing = true;
    await pg.sql("INSERT INTO t SELECT generate_series(6, 10)");
    await assertEventually(() => first.result() !== undefined, { message: "run() to end" });
    const error = first.result();
    assert(error instanceof SourceError, `expected a SourceError, got ${error}`);
    assertEquals(error.stage, "store");
    assert(error.message.includes(`slot "${SLOT}"`), error.message);
    const refused = mem.offered.at(-1)!.events[0]!;
    const refusedCommit = parseSourcePos(refused.source_pos!).commitLsn;
    // Not past the refused transaction's commit: the server must send it again.
    const confirmed = (await confirmedFlush(pg, SLOT))!;
    assert(confirmed >= durable && confirmed <= refusedCommit, `slot at ${confirmed}`);
    assertEquals(parseWalPosition(mem.position!).ack, durable);
  } finally {
    await first.stop();
  }

  mem.failing = false;
  const second = startRun(source, (signal) => mem.context(NAME, signal));
  try {
    await assertEventually(() => mem.insertedIds().length >= 10, { message: "10 rows stored" });
    await assertEventually(async () =>
      (await confirmedFlush(pg, SLOT))! >= parseWalPosition(mem.position!).ack
    );
    assertEquals(mem.insertedIds(), ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
    assertEquals(second.result(), undefined);
  } finally {
    await second.stop();
  }
  assertEquals(second.result(), "ok");
  assertEquals(mem.maxInFlight, 1);
});

Deno.test("walSource() fails (not hangs) when PostgreSQL restarts mid-stream, and the next run loses and doubles nothing", async () => {
  await using pg = await startPostgres();
  await pg.sql(
    `CREATE TABLE t (id int PRIMARY KEY, note text);
     CREATE PUBLICATION ${PUBLICATION} FOR ALL TABLES;
     SELECT pg_create_logical_replication_slot('${SLOT}', 'pgoutput');`,
  );
  const mem = new MemoryStore();
  const source = walSource({ ...QUIET, dsn: pg.dsn(), slot: SLOT, publication: PUBLICATION });
  const first = startRun(source, (signal) => mem.context(NAME, signal));
  // A stream of transactions, paced so that the restart cuts one off: its abort is WAL after the
  // last commit that makes no message, which the source can confirm only by acking as idle —
  // and a fast shutdown waits for the walsender's last position to be confirmed.
  const inserts = Array.from({ length: 300 }, (_, i) => {
    const [first, last] = [i * 100 + 1, (i + 1) * 100];
    return `BEGIN; INSERT INTO t SELECT i, repeat('x', 50) FROM generate_series(${first}, ${last}) i;
      SELECT pg_sleep(0.01); COMMIT;`;
  }).join("\n");
  const producing = pg.sql(inserts).catch(() => "cut off");
  try {
    await assertEventually(() => mem.events.length >= 1000, { message: "some rows stored" });
    const started = Date.now();
    await pg.restart();
    const restartMs = Date.now() - started;
    // A source that never acked as idle would hold the shutdown for the harness's whole 30 s.
    assert(restartMs < 15_000, `restart took ${restartMs} ms`);
    await assertEventually(() => first.result() !== undefined, { message: "run() to end" });
    const error = first.result();
    assert(error instanceof SourceError, `expected a SourceError, got ${error}`);
    assert(["receive", "connect"].includes(error.stage), `stage ${error.stage}`);
  } finally {
    await first.stop();
  }
  assertEquals(await producing, "cut off", "the restart came before the last insert");
  await pg.sql("INSERT INTO t SELECT generate_series(100001, 100050), 'after'");
  const committed = (await pg.sql("SELECT id FROM t ORDER BY id")).split("\n");
  const second = startRun(source, (signal) => mem.context(NAME, signal));
  try {
    await assertEventually(() => mem.insertedIds().length >= committed.length, {
      message: `${committed.length} rows stored`,
    });
  } finally {
    await second.stop();
  }
  const ids = mem.insertedIds();
  assertEquals(ids.length, new Set(ids).size, "no row stored twice");
  assertEquals(ids.map(Number).sort((a, b) => a - b), committed.map(Number));
});

Deno.test("walSource() resumes a large transaction cut off mid-stream after its stored part", async () => {
  await using pg = await startPostgres();
  await pg.sql(
    `CREATE TABLE t (id int PRIMARY KEY, note text);
     CREATE PUBLICATION ${PUBLICATION} FOR ALL TABLES;
     SELECT pg_create_logical_replication_slot('${SLOT}', 'pgoutput');
     INSERT INTO t SELECT i, repeat('y', 300) FROM generate_series(1, 50000) i;`,
  );
  const mem = new MemoryStore();
  let cut = false;
  // The walsender dies while a batch from the middle of the transaction is being stored: more
  // than the socket buffers hold is still to come, so the stream really stops mid-transaction.
  mem.beforeStore = async () => {
    if (cut || mem.events.length < 5000) return;
    cut = true;
    await pg.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_replication");
  };
  const source = walSource({
    ...QUIET,
    dsn: pg.dsn(),
    slot: SLOT,
    publication: PUBLICATION,
    batchMaxEvents: 1000,
  });
  const first = startRun(source, (signal) => mem.context(NAME, signal));
  await first.done;
  const error = first.result();
  assert(error instanceof SourceError, `expected a SourceError, got ${error}`);
  assertEquals(error.stage, "receive");
  const partial = parseWalPosition(mem.position!).partial;
  assert(partial !== null, `stored part of the transaction only: ${mem.position}`);
  assertEquals(partial.index + 1, mem.events.length);
  assert(mem.events.length < 50_000, `${mem.events.length} stored before the cut`);

  mem.beforeStore = undefined;
  const second = startRun(source, (signal) => mem.context(NAME, signal));
  try {
    await assertEventually(() => mem.insertedIds().length >= 50_000, { message: "all stored" });
  } finally {
    await second.stop();
  }
  const ids = mem.insertedIds();
  assertEquals(ids.length, 50_000);
  assertEquals(new Set(ids).size, 50_000, "no row stored twice");
  const places = mem.events.map((e) => parseSourcePos(e.source_pos!).index);
  assertEquals(places, Array.from({ length: 50_000 }, (_, i) => i), "every index once, in order");
  assertEquals(parseWalPosition(mem.position!).partial, null);
});
