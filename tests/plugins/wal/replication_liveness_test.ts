/**
 * Liveness of a stream against a real PostgreSQL 15 with a 2 s `wal_sender_timeout`:
 * keepalive replies keep a consumer that waits for data connected, periodic status updates
 * keep one that does not read at all connected (and without them the server drops it — the
 * control that shows the timeout is real), a slow consumer holds the server back instead of
 * filling memory, and a terminated walsender or a server restart ends the stream with an
 * error instead of a hang.
 */
import { assert, assertEquals, assertEventually, assertRejects } from "../../support/assert.ts";
import { type PgCluster, startPostgres } from "../../support/postgres.ts";
import {
  connectReplication,
  type ReplicationClient,
  type ReplicationStream,
} from "../../../plugins/wal/replication.ts";
import { DEFAULT_CHUNK_SIZE, PgError, ReplicationError } from "../../../daemon/pgwire/mod.ts";
import { parseLsn } from "../../../plugins/wal/lsn.ts";

const TIMEOUT_MS = 2_000;

interface Started {
  client: ReplicationClient;
  stream: ReplicationStream;
  pid: number;
}

async function start(pg: PgCluster, slot: string, statusIntervalMs: number): Promise<Started> {
  const client = await connectReplication(pg.dsn());
  await client.createSlotIfMissing(slot);
  const pid = client.connection.backendPid;
  const stream = await client.start({ slot, publication: "p", statusIntervalMs });
  return { client, stream, pid };
}

async function walsenderAlive(pg: PgCluster, pid: number): Promise<boolean> {
  return (await pg.sql(`SELECT count(*) FROM pg_stat_replication WHERE pid = ${pid}`)) === "1";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads messages until a Commit whose transaction mentions `marker`; returns its end LSN. */
async function awaitCommitWith(stream: ReplicationStream, marker: string): Promise<bigint> {
  let seen = false;
  for (;;) {
    const { done, value } = await stream.next();
    if (done) throw new Error(`Stream ended before ${marker}`);
    seen ||= new TextDecoder().decode(value.payload).includes(marker);
    if (value.payload[0] === 0x43 && seen) {
      return new DataView(value.payload.buffer, value.payload.byteOffset).getBigUint64(10);
    }
  }
}

/** Settles within `ms`, or fails the test: a hang is the bug being tested for. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("ReplicationStream stays alive, applies backpressure and fails loudly", async (t) => {
  await using pg = await startPostgres();
  await pg.sql("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE PUBLICATION p FOR ALL TABLES");
  await pg.sql(`ALTER SYSTEM SET wal_sender_timeout = '${TIMEOUT_MS}ms'`);
  await pg.sql("SELECT pg_reload_conf()");
  await assertEventually(async () => (await pg.sql("SHOW wal_sender_timeout")) === "2s");

  await t.step("keepalive replies keep a waiting consumer past wal_sender_timeout", async () => {
    // No unsolicited updates within the test: only answers to keepalives keep it alive.
    const { stream, pid } = await start(pg, "live_reply", 60_000);
    const pending = stream.next();
    await sleep(3 * TIMEOUT_MS);
    assert(await walsenderAlive(pg, pid), "the walsender timed out despite keepalive replies");
    await pg.sql("INSERT INTO t VALUES (1, 'after the wait')");
    assertEquals((await within(10_000, "next()", pending)).done, false);
    await within(10_000, "the insert", awaitCommitWith(stream, "after the wait"));
    await stream.close();
  });

  await t.step("without replies the server drops a consumer after wal_sender_timeout", async () => {
    const { stream, pid } = await start(pg, "live_control", 60_000);
    await assertEventually(async () => !(await walsenderAlive(pg, pid)), {
      timeoutMs: 4 * TIMEOUT_MS,
      message: "the walsender timing out a silent client",
    });
    const error = await assertRejects(
      () => within(10_000, "next()", stream.next()),
      ReplicationError,
    );
    assertEquals(error.stage, "replicate");
    await stream.close();
  });

  await t.step("status updates keep a consumer that does not read connected", async () => {
    const { stream, pid } = await start(pg, "live_status", TIMEOUT_MS / 4);
    await sleep(3 * TIMEOUT_MS); // not reading at all
    assert(await walsenderAlive(pg, pid), "the walsender timed out despite status updates");
    await pg.sql("INSERT INTO t VALUES (2, 'still here')");
    await within(10_000, "the insert", awaitCommitWith(stream, "still here"));
    await stream.close();
  });

  await t.step("a consumer that does not read holds the server back, not memory", async () => {
    const { client, stream, pid } = await start(pg, "live_backpressure", 500);
    await pg.sql(
      "INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1000, 200999) g",
    );
    const commitLsn = parseLsn(await pg.sql("SELECT pg_current_wal_lsn()"));
    const sentLsn = async () =>
      parseLsn(await pg.sql(`SELECT sent_lsn FROM pg_stat_replication WHERE pid = ${pid}`));
    // Let the server send what the socket buffers take — however long decoding takes on a
    // busy machine — until sent_lsn stands still, then check it stopped short of the commit.
    let stuck = await sentLsn();
    for (let rounds = 0;; rounds++) {
      await sleep(1_000);
      const now = await sentLsn();
      if (now === stuck) break;
      assert(rounds < 120, "the walsender kept sending to a consumer not reading");
      stuck = now;
    }
    assert(stuck < commitLsn, "all was sent: the workload is too small to show backpressure");
    let inserts = 0;
    for (;;) {
      const { done, value } = await stream.next();
      if (done) throw new Error("stream ended");
      assert(client.connection.reader.buffered <= DEFAULT_CHUNK_SIZE, "reader buffered too much");
      if (value.payload[0] === 0x49) inserts++;
      if (value.payload[0] === 0x43) break;
    }
    assertEquals(inserts, 200_000);
    await stream.close();
  });

  await t.step(
    "pg_terminate_backend() of the walsender ends next() with PgError 57P01",
    async () => {
      const { stream, pid } = await start(pg, "live_terminate", 500);
      const pending = stream.next();
      await pg.sql(`SELECT pg_terminate_backend(${pid})`);
      const error = await assertRejects(() => within(10_000, "next()", pending), PgError);
      assertEquals(error.code, "57P01");
      assertEquals(error.stage, "replicate");
      assert(error.lsn !== undefined);
      assertEquals((await stream.next()).done, true);
      await stream.close();
    },
  );

  await t.step("a server restart mid-stream ends next() with an error, then resumes", async () => {
    const { stream } = await start(pg, "live_restart", 500);
    await pg.sql("INSERT INTO t VALUES (3, 'before restart')");
    const end = await within(10_000, "the insert", awaitCommitWith(stream, "before restart"));
    // Stored and nothing pending: a fast shutdown need not wait for us (see ack()'s idle).
    stream.ack(end, { idle: true });
    const pending = stream.next();
    const restarted = pg.restart();
    const error = await assertRejects(() => within(20_000, "next()", pending), ReplicationError);
    assertEquals(error.stage, "replicate");
    await restarted;
    await stream.close();
    await pg.sql("INSERT INTO t VALUES (4, 'after restart')");
    const again = await start(pg, "live_restart", 500);
    await within(10_000, "the insert", awaitCommitWith(again.stream, "after restart"));
    await again.stream.close();
  });
});
