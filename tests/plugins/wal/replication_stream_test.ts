/**
 * Streaming from a real PostgreSQL 15 and the ack discipline: XLogData arrives for a committed
 * INSERT; the slot's confirmed_flush_lsn stays put however much is received until the caller
 * acks, and moves to exactly the acked LSN after; a new stream from the slot gets again what
 * was not acked; keepalive positions are confirmed only when the caller said it is idle.
 */
import {
  assert,
  assertEquals,
  assertEventually,
  assertStringIncludes,
  assertThrows,
} from "../../support/assert.ts";
import { type PgCluster, startPostgres } from "../../support/postgres.ts";
import {
  connectReplication,
  type ReplicationStream,
  type XLogData,
} from "../../../plugins/wal/replication.ts";
import { parseLsn } from "../../../plugins/wal/lsn.ts";

const SLOT = "vigil_stream";
// A publication name that needs quoting both as an identifier and inside a literal.
const PUBLICATION = `Audit "pub" it's`;

function tag(message: XLogData): string {
  return String.fromCharCode(message.payload[0]!);
}

/** pgoutput Commit: flags (1), commit LSN (8), end LSN (8), time (8). */
function commitEnd(message: XLogData): bigint {
  const { payload } = message;
  return new DataView(payload.buffer, payload.byteOffset).getBigUint64(10);
}

/** Reads one transaction, Begin to Commit; fails if it takes longer than `ms`. */
async function takeTransaction(
  stream: ReplicationStream,
  ms = 10_000,
): Promise<{ tags: string; text: string; end: bigint; commit: XLogData }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`No whole transaction within ${ms} ms`)), ms);
  });
  const read = (async () => {
    let tags = "";
    let text = "";
    for (;;) {
      const { done, value } = await stream.next();
      if (done) throw new Error("The stream ended inside a transaction");
      tags += tag(value);
      text += new TextDecoder().decode(value.payload.subarray(1)).replace(/[^ -~]/g, ".");
      if (tag(value) === "C") return { tags, text, end: commitEnd(value), commit: value };
    }
  })();
  try {
    return await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function confirmedFlush(pg: PgCluster): Promise<bigint> {
  return parseLsn(
    await pg.sql(
      `SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '${SLOT}'`,
    ),
  );
}

/** Process id of the walsender serving the stream {@link startStream} made last. */
let walsenderPid = 0;

/** Waits until the walsender has processed a status update sent after this call. */
async function statusProcessed(pg: PgCluster, stream: ReplicationStream): Promise<void> {
  const replyTime =
    `SELECT coalesce(reply_time::text, '') FROM pg_stat_replication WHERE pid = ${walsenderPid}`;
  const before = await pg.sql(replyTime);
  await stream.sendStatus();
  await assertEventually(async () => (await pg.sql(replyTime)) !== before, {
    message: "the walsender noting our status update",
  });
}

async function startStream(pg: PgCluster, startLsn?: bigint): Promise<ReplicationStream> {
  const client = await connectReplication(pg.dsn());
  await client.createSlotIfMissing(SLOT);
  walsenderPid = client.connection.backendPid;
  return await client.start({
    slot: SLOT,
    publication: PUBLICATION,
    statusIntervalMs: 500,
    ...(startLsn === undefined ? {} : { startLsn }),
  });
}

Deno.test("ReplicationStream streams changes and confirms only what was acked", async (t) => {
  await using pg = await startPostgres();
  const quoted = `"${PUBLICATION.replaceAll('"', '""')}"`;
  await pg.sql(
    `CREATE TABLE t (id int PRIMARY KEY, v text); CREATE PUBLICATION ${quoted} FOR ALL TABLES`,
  );
  let stream = await startStream(pg);
  const slotStart = await confirmedFlush(pg);
  let ackedEnd = 0n;

  await t.step("next() yields Begin, Relation, Insert, Commit for a committed INSERT", async () => {
    await pg.sql("INSERT INTO t VALUES (1, 'hello vigil')");
    const txn = await takeTransaction(stream);
    assertEquals(txn.tags, "BRIC");
    assertStringIncludes(txn.text, "hello vigil");
    // pgoutput puts a Commit's end LSN in walStart: the position to ack after storing it.
    assertEquals(txn.commit.walStart, txn.end);
    assert(txn.end > slotStart);
    const skewUs = Number(txn.commit.serverTime) - Date.now() * 1000;
    assert(Math.abs(skewUs) < 60_000_000, `serverTime is ${skewUs} µs off: wrong epoch?`);
    ackedEnd = txn.end;
  });

  await t.step("confirmed_flush_lsn does not move while nothing is acked", async () => {
    await pg.sql("INSERT INTO t VALUES (2, 'second')");
    await takeTransaction(stream);
    await statusProcessed(pg, stream);
    await statusProcessed(pg, stream);
    assertEquals(await confirmedFlush(pg), slotStart);
    const flushed = await pg.sql(
      `SELECT flush_lsn FROM pg_stat_replication WHERE pid = ${walsenderPid}`,
    );
    assertEquals(flushed === "" ? slotStart : parseLsn(flushed), slotStart);
  });

  await t.step("after ack(lsn) confirmed_flush_lsn becomes exactly that LSN", async () => {
    stream.ack(ackedEnd); // the first transaction only
    await statusProcessed(pg, stream);
    assertEquals(await confirmedFlush(pg), ackedEnd);
    assertEquals(stream.durableLsn, ackedEnd);
    assertThrows(() => stream.ack(ackedEnd - 1n), {
      instanceOf: RangeError,
      message: /acked before/,
    });
  });

  await t.step("a new stream from the slot re-sends what was not acked", async () => {
    await stream.close();
    stream = await startStream(pg);
    const again = await takeTransaction(stream);
    assertStringIncludes(again.text, "second");
    assert(!again.text.includes("hello vigil"), "an acked transaction came again");
    stream.ack(again.end);
    ackedEnd = again.end;
    await statusProcessed(pg, stream);
    assertEquals(await confirmedFlush(pg), ackedEnd);
  });

  await t.step("a keepalive position is confirmed only after an idle ack", async () => {
    const lsnAfterRollback = async () => {
      await pg.sql("BEGIN; INSERT INTO t SELECT g, 'x' FROM generate_series(100, 200) g; ROLLBACK");
      return parseLsn(await pg.sql("SELECT pg_current_wal_lsn()"));
    };
    const pending = stream.next(); // reading, so keepalives are seen
    const walNow = await lsnAfterRollback();
    await new Promise((resolve) => setTimeout(resolve, 1500)); // three status intervals
    assertEquals(await confirmedFlush(pg), ackedEnd); // not idle: nothing beyond the ack
    stream.ack(ackedEnd, { idle: true });
    await lsnAfterRollback();
    await assertEventually(async () => (await confirmedFlush(pg)) >= walNow, {
      message: "confirmed_flush_lsn past WAL that held nothing for the slot",
    });
    assert(stream.confirmedLsn > ackedEnd);
    assertEquals(stream.durableLsn, ackedEnd);
    // Data taken after the idle ack ends idleness at once.
    await pg.sql("INSERT INTO t VALUES (3, 'third')");
    const first = await pending;
    assertEquals(first.done, false);
    const txn = await takeTransaction(stream);
    assertStringIncludes(txn.text, "third");
    const confirmed = stream.confirmedLsn;
    await pg.sql("BEGIN; INSERT INTO t VALUES (999, 'gone'); ROLLBACK");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assertEquals(stream.confirmedLsn, confirmed);
    assert(confirmed < txn.end);
  });

  await t.step("close() during a pending next() ends it and frees the slot", async () => {
    const pending = stream.next();
    await stream.close();
    assertEquals((await pending).done, true);
    assertEquals((await stream.next()).done, true);
    await assertEventually(
      async () => (await pg.sql(`SELECT active FROM pg_replication_slots`)) === "f",
      { message: "slot released after close()" },
    );
  });

  await t.step("a for-await loop that breaks closes the stream", async () => {
    stream = await startStream(pg);
    let seen = 0;
    for await (const message of stream) {
      seen++;
      if (tag(message) === "C") break;
    }
    assert(seen >= 3, `only ${seen} messages`);
    await assertEventually(
      async () => (await pg.sql(`SELECT active FROM pg_replication_slots`)) === "f",
      { message: "slot released after break" },
    );
  });
});
