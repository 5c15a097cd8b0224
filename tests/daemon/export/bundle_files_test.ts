/**
 * A bundle's files as `writeFiles` writes them from the spool: a bundle of a row group or more in
 * all is encoded on one Worker while this thread builds the next file (`parquet_queue.ts`), a
 * smaller one here; either way each file holds the bytes the single-thread writer gives for its
 * lines, and the manifest's entries name them, hash them and come in the partitions' order. A
 * partition whose lines are not its rows fails the run with the writer's error.
 */

import { createHash } from "node:crypto";
import { canonicalEvent, canonicalJson } from "../../../daemon/event/canonical.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { partitionMeta, writeFiles } from "../../../daemon/export/bundle_files.ts";
import { BATCH_ROWS, parquetTableStream, ROW_GROUP_ROWS } from "../../../daemon/export/parquet.ts";
import type { ExportPlan } from "../../../daemon/export/plan.ts";
import type { SpooledPartition } from "../../../daemon/export/spool.ts";
import { spooledTables } from "../../../daemon/export/spool_tables.ts";
import { assertEquals, assertRejects } from "../../support/assert.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

const T0 = Date.UTC(2026, 0, 1) * 1000;
const DAY = 86_400_000_000;

function events(n: number, from: number, day: number): AuditEvent[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const e = canonicalEvent(testEvent(i), i, T0 + day * DAY + k);
    if (i % 5 !== 0) return e;
    return { ...e, params: [String(i), null], context: { user: `u${i % 13}` } };
  });
}

const plan: ExportPlan = {
  firstSeq: 0,
  endSeq: 10_000_000,
  checkpoint: {
    v: 1,
    size: 10_000_000,
    root: "ab".repeat(32),
    chain: "cd".repeat(32),
    ts: T0,
    key_id: "0123456789abcdef",
    sig: "c2ln",
  },
  previous: null,
  inner: [],
  unsigned: 0,
};

/**
 * A spool of partitions of `rows` rows each (one a day), each partition's lines in two runs with
 * the others' between them, as the spool interleaves them.
 */
async function spool(dir: string, rows: number[]): Promise<SpooledPartition[]> {
  const file = `${dir}/lines.jsonl`;
  const enc = new TextEncoder();
  const parts = rows.map((n, p) => events(n, p * 1_000_000, p));
  const extents: number[][] = parts.map(() => []);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const half of [0, 1]) {
    for (const [p, evs] of parts.entries()) {
      const cut = evs.length >> 1;
      const lines = half === 0 ? evs.slice(0, cut) : evs.slice(cut);
      const bytes = enc.encode(lines.map((e) => canonicalJson(e) + "\n").join(""));
      if (bytes.length === 0) continue;
      extents[p]!.push(at, bytes.length);
      chunks.push(bytes);
      at += bytes.length;
    }
  }
  await Deno.writeFile(file, await new Blob(chunks as Uint8Array<ArrayBuffer>[]).bytes());
  return parts.map((evs, p) => ({
    source: "db1-log",
    date: new Date((T0 + p * DAY) / 1000).toISOString().slice(0, 10),
    rows: evs.length,
    firstSeq: evs[0]!.seq,
    lastSeq: evs.at(-1)!.seq,
    chainBefore: new Uint8Array(32).fill(p),
    chainAfter: new Uint8Array(32).fill(p + 1),
    file,
    extents: extents[p]!,
  }));
}

/** The partition's file as the single-thread writer writes it. */
async function single(part: SpooledPartition): Promise<Uint8Array> {
  const meta = partitionMeta(part, plan);
  const tables = spooledTables(part, { batchRows: BATCH_ROWS, want: meta });
  return await new Response(await parquetTableStream(tables, meta, { worker: false })).bytes();
}

Deno.test("writeFiles() writes each file's single-thread bytes, on the queue's Worker or here", async () => {
  // A file of two row groups and small ones (the queue), and a bundle under one row group.
  for (const rows of [[ROW_GROUP_ROWS + 10, 5_000, 1, 300], [2_000, 7, BATCH_ROWS + 3]]) {
    await withTempDir(async (dir) => {
      const parts = await spool(dir, rows);
      await Deno.mkdir(`${dir}/work`);
      const files = await writeFiles(`${dir}/work`, parts, plan);
      assertEquals(files.map((f) => f.first_seq), parts.map((p) => p.firstSeq));
      for (const [k, f] of files.entries()) {
        const want = await single(parts[k]!);
        assertEquals(await Deno.readFile(`${dir}/work/${f.path}`), want, f.path);
        const sha256 = createHash("sha256").update(want).digest("hex");
        assertEquals([f.sha256, f.bytes, f.rows], [sha256, want.length, parts[k]!.rows], f.path);
      }
    });
  }
});

Deno.test("writeFiles() fails with the writer's error when a partition's lines are not its rows", async () => {
  for (const rows of [[ROW_GROUP_ROWS, 300, 40], [300, 40]]) {
    await withTempDir(async (dir) => {
      const parts = await spool(dir, rows);
      const bad = parts.map((p, k) => k === 1 ? { ...p, rows: p.rows + 1 } : p);
      await Deno.mkdir(`${dir}/work`);
      await assertRejects(() => writeFiles(`${dir}/work`, bad, plan), {
        instanceOf: RangeError,
        message: `got ${rows[1]} events`,
      });
    });
  }
});
