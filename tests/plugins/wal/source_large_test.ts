/**
 * One transaction of 100 000 rows through the WAL source into the real store: every row
 * arrives once, in order, and memory stays bounded because the source never holds more than a
 * batch being stored and one being assembled. Prints the throughput and peak RSS (no
 * thresholds here: `deno task bench wal` is where numbers are judged).
 */

import type { SourceContext } from "../../../daemon/source.ts";
import { Store } from "../../../daemon/store/store.ts";
import { parseWalPosition } from "../../../plugins/wal/position.ts";
import { WAL_DEFAULTS, walSource } from "../../../plugins/wal/mod.ts";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { startPostgres } from "../../support/postgres.ts";
import { withTempDir } from "../../support/store.ts";

const ROWS = 100_000;
const NAME = "big";
const MiB = 1024 * 1024;

Deno.test("walSource() stores a 100 000-row transaction once, in batches, with bounded memory", async () => {
  await using pg = await startPostgres();
  await pg.sql(
    `CREATE TABLE big (id int PRIMARY KEY, amount numeric(12,2), at timestamptz, note text);
     CREATE PUBLICATION vigil_big FOR ALL TABLES;
     SELECT pg_create_logical_replication_slot('vigil_big', 'pgoutput');
     INSERT INTO big SELECT i, i * 1.25, '2024-01-01'::timestamptz + i * interval '1.000001 s',
       md5(i::text) FROM generate_series(1, ${ROWS}) i;`,
  );
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, { checkpointIntervalMs: 0 });
    const seen = new Uint8Array(ROWS + 1);
    let durable = 0;
    let doubled = 0;
    let outOfOrder = 0;
    store.onDurable((records) => {
      for (const { event } of records) {
        const id = Number(event.new_row?.id);
        if (seen[id]) doubled++;
        if (id !== durable + 1) outOfOrder++;
        seen[id] = 1;
        durable++;
      }
    });
    let maxBatch = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    let firstEmit = 0;
    const ac = new AbortController();
    const ctx: SourceContext = {
      name: NAME,
      position: store.position(NAME),
      signal: ac.signal,
      emit: async ({ events, position }) => {
        firstEmit ||= performance.now();
        maxBatch = Math.max(maxBatch, events.length);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        try {
          await store.append({ source: NAME, events, ...(position ? { position } : {}) });
        } finally {
          inFlight--;
        }
      },
    };
    const baseline = Deno.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, Deno.memoryUsage().rss)), 10);
    const started = performance.now();
    const source = walSource({
      dsn: pg.dsn(),
      slot: "vigil_big",
      publication: "vigil_big",
      configCheckIntervalMs: 0, // Only the stream's events are counted here.
    });
    const running = source.run(ctx);
    let failure: unknown;
    running.catch((e) => (failure = e));
    let done = 0;
    try {
      await assertEventually(() => {
        if (failure) throw failure;
        return durable >= ROWS;
      }, { timeoutMs: 60_000, intervalMs: 5, message: `${ROWS} rows durable` });
      done = performance.now();
    } finally {
      clearInterval(sampler);
      ac.abort();
      await running.catch(() => {});
      await store.close();
    }
    assertEquals([durable, doubled, outOfOrder], [ROWS, 0, 0]);
    assertEquals(parseWalPosition(store.position(NAME) ?? "").partial, null);
    // What bounds memory: batches no larger than configured, one being stored at a time.
    assert(maxBatch <= WAL_DEFAULTS.batchMaxEvents, `a batch of ${maxBatch}`);
    assertEquals(maxInFlight, 1);
    const perSecond = (ms: number): number => Math.round(ROWS / (ms / 1000));
    console.log(
      `wal source, one transaction of ${ROWS} rows into the store: ` +
        `${perSecond(done - firstEmit)} events/s from the first batch ` +
        `(${perSecond(done - started)} from connect), peak RSS ${(peak / MiB).toFixed(0)} MiB ` +
        `(${(baseline / MiB).toFixed(0)} MiB before), largest batch ${maxBatch}`,
    );
  });
});
