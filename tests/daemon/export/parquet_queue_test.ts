/**
 * The bundle's encoder queue (`parquet_queue.ts`): files sent one after the other without
 * waiting for each to be written come out as the bytes of the single-thread writer, each with
 * its hash and size, however many batches each has; a file whose batches fail rejects with
 * their error; a Worker that fails rejects every file still waiting, with the file named.
 */

import { createHash } from "node:crypto";
import type { Table } from "apache-arrow";
import { BufferPool, eventsToArrowTable } from "../../../daemon/event/arrow.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { BATCH_ROWS, writeEventsParquet } from "../../../daemon/export/parquet.ts";
import { EncoderQueue, type QueuedFile } from "../../../daemon/export/parquet_queue.ts";
import { assertEquals, assertRejects } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";
import { fileMetaFor, mixedEvents } from "./_events.ts";

/** The events as tables of BATCH_ROWS rows, built in one reused set of buffers, as the export. */
async function* tables(evs: AuditEvent[], failAfter = Infinity): AsyncGenerator<Table> {
  const pool = new BufferPool();
  for (let at = 0, n = 0; at < evs.length || at === 0; at += BATCH_ROWS, n++) {
    if (n === failAfter) throw new RangeError("the spool ran dry");
    yield eventsToArrowTable(evs.slice(at, at + BATCH_ROWS), pool);
    if (evs.length === 0) break;
  }
}

Deno.test("EncoderQueue writes each file as the single-thread writer, files sent back to back", async () => {
  await withTempDir(async (dir) => {
    // Several batches, one row, a batch and a bit: more batches in flight than buffers.
    const files = [BATCH_ROWS * 3 + 5, 1, 700, BATCH_ROWS + 1].map((n, f) =>
      mixedEvents(n, f * 50_000)
    );
    using queue = new EncoderQueue();
    const written: Promise<QueuedFile>[] = [];
    for (const [f, evs] of files.entries()) {
      written.push(
        (await queue.send(tables(evs), fileMetaFor(evs, 100_000), `${dir}/${f}.parquet`)).written,
      );
    }
    const got = await Promise.all(written);
    for (const [f, evs] of files.entries()) {
      const want = await writeEventsParquet(evs, fileMetaFor(evs, 100_000), { worker: false });
      const bytes = await Deno.readFile(`${dir}/${f}.parquet`);
      assertEquals(bytes, want, `file ${f}`);
      const sha256 = createHash("sha256").update(want).digest("hex");
      assertEquals(got[f], { sha256, bytes: want.length }, `file ${f}`);
    }
  });
});

Deno.test("EncoderQueue rejects a file with its batches' own error", async () => {
  await withTempDir(async (dir) => {
    const evs = mixedEvents(BATCH_ROWS * 2 + 3, 0);
    using queue = new EncoderQueue();
    await assertRejects(
      () => queue.send(tables(evs, 2), fileMetaFor(evs, 100_000), `${dir}/a.parquet`),
      {
        instanceOf: RangeError,
        message: "the spool ran dry",
      },
    );
  });
});

Deno.test("EncoderQueue rejects the files waiting when its Worker fails, naming the file", async () => {
  await withTempDir(async (dir) => {
    const evs = mixedEvents(50, 0);
    using queue = new EncoderQueue();
    const { written: first } = await queue.send(
      tables(evs),
      fileMetaFor(evs, 100_000),
      `${dir}/a.parquet`,
    );
    await first;
    // A file that exists already: the Worker cannot create it.
    const { written } = await queue.send(
      tables(evs),
      fileMetaFor(evs, 100_000),
      `${dir}/a.parquet`,
    );
    await assertRejects(() => written, {
      instanceOf: Error,
      message: "the encoder Worker failed: file 1: ",
    });
    await assertRejects(
      () => queue.send(tables(evs), fileMetaFor(evs, 100_000), `${dir}/b.parquet`),
      {
        instanceOf: Error,
        message: "file 1",
      },
    );
  });
});
