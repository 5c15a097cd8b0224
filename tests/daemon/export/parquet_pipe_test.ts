import {
  parquetEventStream,
  readParquetEvents,
  readParquetFooter,
  ROW_GROUP_ROWS,
  writeEventsParquet,
} from "../../../daemon/export/parquet.ts";
import { EncoderWorkers, spawnParquetWorker } from "../../../daemon/export/parquet_pipe.ts";
import { assertEquals, assertRejects } from "../../support/assert.ts";
import { fileMetaFor, mixedEvents } from "./_events.ts";

function failingWorker(failAt: number): () => Worker {
  const url = new URL(`./_parquet_worker_failing.ts?fail_at=${failAt}`, import.meta.url);
  return () => new Worker(url.href, { type: "module" });
}

Deno.test("parquetEventStream() on a Worker writes the bytes of the single-thread writer", async () => {
  const evs = mixedEvents(2 * ROW_GROUP_ROWS + 100);
  const meta = fileMetaFor(evs, evs.length);
  const inline = await writeEventsParquet(evs, meta, { worker: false });
  assertEquals((await readParquetFooter(inline)).rowGroups, [ROW_GROUP_ROWS, ROW_GROUP_ROWS, 100]);
  assertEquals(await writeEventsParquet(evs, meta, { worker: true }), inline);
  assertEquals(await writeEventsParquet(evs, meta), inline); // "auto" takes the Worker here
  const batches = [
    evs.slice(0, 5),
    [],
    evs.slice(5, ROW_GROUP_ROWS + 9),
    evs.slice(ROW_GROUP_ROWS + 9),
  ];
  const streamed = await new Response(await parquetEventStream(batches, meta, { worker: true }))
    .bytes();
  assertEquals(streamed, inline);
});

Deno.test("parquetEventStream() on a Worker writes small and empty files as the single-thread writer", async () => {
  for (const evs of [[], mixedEvents(1), mixedEvents(1000)]) {
    const meta = evs.length > 0 ? fileMetaFor(evs, evs.length) : undefined;
    const inline = await writeEventsParquet(evs, meta, { worker: false });
    assertEquals(await writeEventsParquet(evs, meta, { worker: true }), inline, `${evs.length}`);
  }
  const back = await readParquetEvents(
    await writeEventsParquet(mixedEvents(10), undefined, { worker: true }),
  );
  assertEquals(back.map((e) => e.seq), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

Deno.test("EncoderWorkers keeps one Worker for file after file, the bytes unchanged; a failed one goes", async () => {
  let spawned = 0;
  const workers = new EncoderWorkers(() => (spawned++, spawnParquetWorker()));
  try {
    for (const n of [ROW_GROUP_ROWS + 10, ROW_GROUP_ROWS, 2 * ROW_GROUP_ROWS + 3]) {
      const evs = mixedEvents(n).map((e) => ({ ...e, seq: e.seq + n }));
      const meta = fileMetaFor(evs, evs.length);
      const inline = await writeEventsParquet(evs, meta, { worker: false });
      assertEquals(await writeEventsParquet(evs, meta, { worker: true, workers }), inline, `${n}`);
    }
    assertEquals(spawned, 1, "one Worker for three files");
    const evs = mixedEvents(ROW_GROUP_ROWS + 10);
    await assertRejects(
      () => writeEventsParquet(evs.slice(1), fileMetaFor(evs, evs.length), { workers }),
      {
        instanceOf: RangeError,
      },
    );
    assertEquals(
      await writeEventsParquet(evs, fileMetaFor(evs, evs.length), { workers }),
      await writeEventsParquet(evs, fileMetaFor(evs, evs.length), { worker: false }),
    );
    assertEquals(spawned, 2, "the Worker of a failed file is not used again");
  } finally {
    workers.close();
  }
});

Deno.test("parquetEventStream() fails with the Worker's error when the Worker fails", async () => {
  const evs = mixedEvents(ROW_GROUP_ROWS + 10);
  for (const failAt of [0, 1, 2]) {
    await assertRejects(
      () =>
        writeEventsParquet(evs, fileMetaFor(evs, evs.length), {
          worker: true,
          workers: new EncoderWorkers(failingWorker(failAt)),
        }),
      {
        instanceOf: Error,
        message:
          `the encoder Worker failed: Uncaught Error: encoder gave up after ${failAt} row groups`,
      },
    );
  }
});

Deno.test("parquetEventStream() on a Worker fails with the input's error and ends the Worker", async () => {
  const evs = mixedEvents(ROW_GROUP_ROWS + 10);
  await assertRejects(
    () => writeEventsParquet(evs.slice(1), fileMetaFor(evs, evs.length), { worker: true }),
    {
      instanceOf: RangeError,
      message: `metadata says ${evs.length} (seq 0 to ${evs.length - 1})`,
    },
  );
  const bad = [...evs.slice(0, ROW_GROUP_ROWS + 5), { ...evs[0]!, seq: "x" as unknown as number }];
  await assertRejects(() => writeEventsParquet(bad, undefined, { worker: true }), {
    instanceOf: TypeError,
    message: `field "seq" is not a safe integer`,
  });
});

Deno.test("parquetEventStream() on a Worker ends the Worker when the reader cancels", async () => {
  const evs = mixedEvents(2 * ROW_GROUP_ROWS);
  const stream = await parquetEventStream([evs], undefined, { worker: true });
  const reader = stream.getReader();
  await reader.read();
  await reader.cancel();
});
