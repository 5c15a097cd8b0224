/**
 * Gaps are alarms, at start: a slot dropped, advanced by someone else or invalidated while the
 * source was stopped gives one `WAL_GAP` event with the LSNs, stored before anything else, and
 * collection goes on from the slot; clean restarts — after quiet stretches whose keepalives were
 * confirmed — give none, because the slot is never confirmed past what the store holds.
 * `findGap()`'s other cases (another cluster, WAL behind the store) are checked without a server.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import {
  findGap,
  positionAfterGap,
  type StartFacts,
  storedEnd,
} from "../../../plugins/wal/gaps.ts";
import { formatLsn, parseLsn } from "../../../plugins/wal/lsn.ts";
import { parseWalPosition } from "../../../plugins/wal/position.ts";
import type { SlotInfo } from "../../../plugins/wal/replication.ts";
import { walSource } from "../../../plugins/wal/mod.ts";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { type PgCluster, startPostgres } from "../../support/postgres.ts";
import { confirmedFlush, MemoryStore, startRun } from "./_source_harness.ts";

const SLOT = "vigil_gaps";

const gaps = (mem: MemoryStore): NewEvent[] => mem.events.filter((e) => e.command === "WAL_GAP");

/** Runs the source until `ids` are stored (after `produce`), then stops it cleanly. */
async function runUntil(
  pg: PgCluster,
  mem: MemoryStore,
  ids: string[],
  produce: () => Promise<unknown>,
): Promise<void> {
  const source = walSource({ dsn: pg.dsn(), slot: SLOT, publication: SLOT });
  const run = startRun(source, (signal) => mem.context("billing", signal));
  try {
    await assertEventually(async () => (await confirmedFlush(pg, SLOT)) !== undefined);
    await produce();
    await assertEventually(() => ids.every((id) => mem.insertedIds().includes(id)), {
      message: `rows ${ids} stored`,
    });
  } finally {
    await run.stop();
  }
  assertEquals(run.result(), "ok");
}

const insert = (pg: PgCluster, ...ids: number[]) => (): Promise<string> =>
  pg.sql(ids.map((id) => `INSERT INTO t VALUES (${id});`).join("\n"));

Deno.test("walSource() raises WAL_GAP for a slot dropped or advanced while stopped, and goes on", async () => {
  await using pg = await startPostgres();
  await pg.sql("CREATE TABLE t (id int PRIMARY KEY); CREATE DATABASE other");
  const mem = new MemoryStore();
  await runUntil(pg, mem, ["1"], async () => {
    await insert(pg, 1)();
    // WAL of another database while idle: nothing for us, but keepalives past it, whose
    // positions the source stores before it confirms them.
    await pg.sql("CREATE TABLE noise AS SELECT generate_series(1, 1000) i", "other");
    const walEnd = parseLsn(await pg.sql("SELECT pg_current_wal_flush_lsn()"));
    await assertEventually(async () => (await confirmedFlush(pg, SLOT))! >= walEnd, {
      message: "the slot confirmed past the other database's WAL",
    });
  });
  const stored = parseWalPosition(mem.position!);
  assert((await confirmedFlush(pg, SLOT))! <= stored.ack, "slot not ahead of the store");
  // Stopped and started again after quiet stretches: no alarm.
  await runUntil(pg, mem, ["2"], insert(pg, 2));
  assertEquals(gaps(mem), []);

  await insert(pg, 3, 4)(); // Committed while stopped: the slot holds them...
  const before = mem.position!;
  await pg.sql(`SELECT pg_drop_replication_slot('${SLOT}')`); // ...until it is dropped.
  await runUntil(pg, mem, ["5"], insert(pg, 5));
  const [dropped] = gaps(mem);
  assertEquals(dropped?.kind, "system");
  assertEquals(dropped?.context?.reason, "slot_missing");
  assertEquals(dropped?.context?.store_position, before);
  assert(dropped!.error!.includes(`slot "${SLOT}"`), dropped!.error);
  // The end of what the store holds: its ack, or a logical message stored after it (whether one
  // is depends on how the last run's keepalives and acks fell).
  const heldTo = formatLsn(storedEnd(parseWalPosition(before)));
  assert(dropped!.error!.includes(`up to ${heldTo};`), `${dropped!.error} (position ${before})`);
  assertEquals(mem.insertedIds(), ["1", "2", "5"], "3 and 4 are the gap");
  const afterGap = mem.events.indexOf(dropped!);
  assertEquals(mem.events.slice(afterGap + 1).map((e) => e.command), ["INSERT"]);

  await insert(pg, 6)();
  const advancedFrom = mem.position!;
  await pg.sql(`SELECT pg_replication_slot_advance('${SLOT}', pg_current_wal_lsn())`);
  const advancedTo = await confirmedFlush(pg, SLOT);
  await runUntil(pg, mem, ["7"], insert(pg, 7));
  assertEquals(gaps(mem).length, 2);
  const advanced = gaps(mem)[1]!;
  assertEquals(advanced.context?.reason, "slot_advanced");
  assertEquals(advanced.context?.store_position, advancedFrom);
  assert(advanced.error!.includes(`confirmed up to ${formatLsn(advancedTo!)}`), advanced.error);
  assertEquals(mem.insertedIds(), ["1", "2", "5", "7"], "6 is the gap");

  await runUntil(pg, mem, ["8"], insert(pg, 8));
  assertEquals(gaps(mem).length, 2, "each gap is raised once");
});

Deno.test("walSource() raises WAL_GAP for a slot whose WAL is lost, and makes the slot anew", async () => {
  await using pg = await startPostgres({ settings: { max_slot_wal_keep_size: "1MB" } });
  await pg.sql("CREATE TABLE t (id int PRIMARY KEY)");
  const mem = new MemoryStore();
  await runUntil(pg, mem, ["1"], insert(pg, 1));
  // Stopped: WAL goes past what the slot may keep, and a checkpoint removes it.
  for (let i = 2; i < 6; i++) await pg.sql(`INSERT INTO t VALUES (${i}); SELECT pg_switch_wal()`);
  await pg.sql("CHECKPOINT");
  assertEquals(
    await pg.sql(`SELECT wal_status FROM pg_replication_slots WHERE slot_name = '${SLOT}'`),
    "lost",
  );
  await runUntil(pg, mem, ["10"], insert(pg, 10));
  const [lost] = gaps(mem);
  assertEquals(lost?.context?.reason, "slot_lost");
  assert(lost!.error!.includes('wal_status "lost"'), lost!.error);
  assertEquals(
    await pg.sql(`SELECT wal_status FROM pg_replication_slots WHERE slot_name = '${SLOT}'`),
    "reserved",
  );
  assertEquals(mem.insertedIds(), ["1", "10"]);
});

const SLOT_ROW: SlotInfo = {
  name: SLOT,
  plugin: "pgoutput",
  slotType: "logical",
  database: "billing",
  temporary: false,
  active: false,
  activePid: null,
  restartLsn: 0x100n,
  confirmedFlushLsn: 0x200n,
  walStatus: "reserved",
  sameDatabase: true,
};

function facts(over: Partial<StartFacts>): StartFacts {
  return {
    slot: SLOT,
    server: "db1:5432",
    stored: { ack: 0x200n, partial: null, message: null, system: "42" },
    systemId: "42",
    walEnd: 0x300n,
    found: SLOT_ROW,
    ...over,
  };
}

Deno.test("findGap() tells each kind of gap, and none where the store can resume", () => {
  assertEquals(findGap(facts({})), undefined);
  assertEquals(findGap(facts({ stored: undefined, found: undefined })), undefined, "first start");
  const other = findGap(facts({ systemId: "43" }))!;
  assertEquals([other.reason, other.reset], ["system_changed", true]);
  assert(other.why.includes("system identifier is 43") && other.why.includes("system 42"));
  const behind = findGap(facts({ walEnd: 0x1ffn }))!;
  assertEquals([behind.reason, behind.reset], ["wal_behind", true]);
  assert(behind.why.includes("WAL ends at 0/1FF, behind the store's position 0/200"));
  const lost = findGap(facts({ found: { ...SLOT_ROW, walStatus: "lost" } }))!;
  assertEquals([lost.reason, lost.recreate], ["slot_lost", true]);
  const ahead = facts({ found: { ...SLOT_ROW, confirmedFlushLsn: 0x280n } });
  assertEquals(findGap(ahead)?.reason, "slot_advanced");
  // A later message is stored too: a slot confirmed up to it is not ahead.
  const withMessage = { ack: 0x200n, partial: null, message: 0x280n, system: "42" };
  assertEquals(findGap({ ...ahead, stored: withMessage }), undefined);
  // Positions stored before keepalives were held carry no system id: a slot a little ahead of
  // them is normal, so only a missing or lost slot counts there.
  assertEquals(
    findGap({ ...ahead, stored: { ack: 0x200n, partial: null, message: null } }),
    undefined,
  );
  // After a gap: from the slot; a transaction stored in parts that the slot will send again
  // keeps its stored part.
  const partial = { ack: 0x200n, partial: { commitLsn: 0x290n, index: 7 }, message: null };
  assertEquals(positionAfterGap(partial, findGap(ahead)!, 0x280n, "42"), {
    ack: 0x280n,
    partial: { commitLsn: 0x290n, index: 7 },
    message: null,
    system: "42",
  });
  assertEquals(positionAfterGap(partial, other, 0x10n, "43"), {
    ack: 0x10n,
    partial: null,
    message: null,
    system: "43",
  });
});
