/**
 * Files written on the file Worker (`spool_files.ts`) are the bytes this thread writes for the
 * same spooled lines; this thread and the Worker take the files from one counter, each file
 * once; a file the Worker cannot write fails the run with the file named, and nothing more is
 * taken.
 */

import { canonicalEvent, canonicalJson } from "../../../daemon/event/canonical.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { BATCH_ROWS, parquetTableStream } from "../../../daemon/export/parquet.ts";
import type { ParquetFileMeta } from "../../../daemon/export/parquet_meta.ts";
import type { SpoolFileJob } from "../../../daemon/export/spool_file_worker.ts";
import { SpoolFileWorker } from "../../../daemon/export/spool_files.ts";
import { spooledTables } from "../../../daemon/export/spool_tables.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../../support/assert.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

const T0 = 1_714_550_400_123_456;
/** Rows of each file: one of several batches, one small, one of a single row. */
const FILES = [BATCH_ROWS * 2 + 17, 300, 1, 1200, 50];

function events(n: number, from: number): AuditEvent[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const e = canonicalEvent(testEvent(i), i, T0 + i);
    if (i % 5 !== 0) return e;
    return { ...e, params: [String(i), null], context: { user: `u${i % 13}` } };
  });
}

function metaFor(evs: AuditEvent[]): ParquetFileMeta {
  return {
    firstSeq: evs[0]!.seq,
    lastSeq: evs[evs.length - 1]!.seq,
    rows: evs.length,
    leaves: { from: 0, to: 10_000 },
    chainBefore: "00".repeat(32),
    chainAfter: "11".repeat(32),
    checkpoint: {
      v: 1,
      size: 10_000,
      root: "ab".repeat(32),
      chain: "cd".repeat(32),
      ts: T0,
      key_id: "0123456789abcdef",
      sig: "c2ln",
    },
  };
}

/**
 * A spool file holding the files' lines, each file's in two runs with other files' lines
 * between them, as the spool interleaves partitions; the jobs to write them.
 */
async function spool(dir: string): Promise<SpoolFileJob[]> {
  const file = `${dir}/lines.jsonl`;
  const enc = new TextEncoder();
  const files = FILES.map((n, f) => events(n, f * 100_000));
  const halves = files.map((evs) => [evs.slice(0, evs.length >> 1), evs.slice(evs.length >> 1)]);
  const extents: number[][] = files.map(() => []);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const half of [0, 1]) {
    for (const [f, h] of halves.entries()) {
      const bytes = enc.encode(h[half]!.map((e) => canonicalJson(e) + "\n").join(""));
      if (bytes.length === 0) continue;
      extents[f]!.push(at, bytes.length);
      chunks.push(bytes);
      at += bytes.length;
    }
  }
  await Deno.writeFile(file, await new Blob(chunks as Uint8Array<ArrayBuffer>[]).bytes());
  return files.map((evs, f) => ({ part: { file, extents: extents[f]! }, meta: metaFor(evs) }));
}

/** The file as this thread writes it. */
async function here(job: SpoolFileJob): Promise<Uint8Array> {
  const tables = spooledTables(job.part, { batchRows: BATCH_ROWS, want: job.meta });
  return await new Response(await parquetTableStream(tables, job.meta, { worker: false })).bytes();
}

Deno.test("SpoolFileWorker writes the bytes this thread writes, each file taken once", async () => {
  await withTempDir(async (dir) => {
    const jobs = await spool(dir);
    const want = await Promise.all(jobs.map(here));
    for (const mine of [0, 2]) {
      using helper = new SpoolFileWorker(jobs);
      const got = new Map<number, Uint8Array>();
      // This thread takes `mine` files (as writeFiles does, from the same counter).
      for (let n = 0; n < mine; n++) {
        const k = helper.claim();
        if (k < jobs.length) got.set(k, await here(jobs[k]!));
      }
      for (let done = false; !done;) {
        done = await helper.finished();
        for (const f of helper.take()) {
          assert(!got.has(f.index), `file ${f.index} written twice`);
          got.set(f.index, f.bytes);
        }
      }
      assertEquals([...got.keys()].sort((a, b) => a - b), jobs.map((_, k) => k), `${mine}`);
      for (const [k, bytes] of got) assertEquals(bytes, want[k], `file ${k}, ${mine} here`);
      assert(helper.claim() >= jobs.length, "nothing left to take");
    }
  });
});

Deno.test("SpoolFileWorker fails with the file named when its lines are not the metadata's", async () => {
  await withTempDir(async (dir) => {
    const jobs = await spool(dir);
    const bad = jobs.map((j, k) =>
      k === 1 ? { ...j, meta: { ...j.meta, rows: j.meta.rows + 1 } } : j
    );
    using helper = new SpoolFileWorker(bad);
    await assertRejects(
      async () => {
        while (!await helper.finished()) helper.take();
      },
      {
        instanceOf: Error,
        message: `the file Worker failed: file 1: Cannot write Parquet: got 300 events`,
      },
    );
    assertThrows(() => helper.claim(), { instanceOf: Error, message: "file 1" });
    assertThrows(() => helper.take(), { instanceOf: Error, message: "file 1" });
  });
});
