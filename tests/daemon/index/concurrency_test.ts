import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { EventIndex } from "../../../daemon/index/event_index.ts";
import { event, records, withTempDir } from "./_events.ts";

Deno.test("EventIndex read-only sees each commit of a writer on another connection", async () => {
  await withTempDir((dir) => {
    const path = dir + "/index.sqlite";
    const writer = EventIndex.open(path);
    const reader = EventIndex.open(path, { readonly: true });
    try {
      assert.equal(reader.lastSeq(), -1);
      writer.add(records([event(0), event(1, { statement: "select 1" })]));
      assert.equal(reader.lastSeq(), 1);
      assert.deepEqual(reader.seqs({ text: "select" }), [1]);
    } finally {
      reader.close();
      writer.close();
    }
  });
});

Deno.test("EventIndex writer commits while a reader is inside a query", async () => {
  await withTempDir((dir) => {
    const path = dir + "/index.sqlite";
    const writer = EventIndex.open(path);
    const reader = EventIndex.open(path, { readonly: true });
    try {
      writer.add(records(Array.from({ length: 10 }, (_, i) => event(i))));
      const it = reader.iterateSeqs({});
      assert.equal(it.next().value, 0);
      // WAL: the writer neither waits for nor disturbs the reader's snapshot.
      writer.add(records(Array.from({ length: 10 }, (_, i) => event(10 + i))));
      assert.equal([...it].length, 9, "the open query still sees its snapshot");
      assert.equal(reader.count({}), 20, "the next query sees the commit");
    } finally {
      reader.close();
      writer.close();
    }
  });
});

Deno.test("EventIndex read-only opens an index whose writer has closed", async () => {
  await withTempDir((dir) => {
    const path = dir + "/index.sqlite";
    const writer = EventIndex.open(path);
    writer.add(records([event(0), event(1)]));
    writer.close();
    assert.ok(!existsSync(path + "-wal"), "the last connection folded the WAL back in");
    const reader = EventIndex.open(path, { readonly: true });
    try {
      assert.equal(reader.lastSeq(), 1);
    } finally {
      reader.close();
    }
  });
});

Deno.test("EventIndex read-only sees whole batches while a writer thread adds", async () => {
  await withTempDir(async (dir) => {
    const path = dir + "/index.sqlite";
    const batches = 60, batchSize = 250, total = batches * batchSize;
    const worker = new Worker(new URL("./_writer_worker.ts", import.meta.url), { type: "module" });
    const messages: { type: string; message?: string }[] = [];
    const next = (): Promise<void> =>
      new Promise((resolve) => {
        worker.onmessage = (e) => {
          messages.push(e.data);
          resolve();
        };
      });
    try {
      let arrived = next();
      worker.postMessage({ path, batches, batchSize });
      await arrived;
      assert.equal(messages[0]?.type, "ready", messages[0]?.message);
      arrived = next();
      let done = false;
      arrived.then(() => done = true);
      const reader = EventIndex.open(path, { readonly: true });
      const seen = new Set<number>();
      try {
        let last = 0;
        while (!done) {
          const n = reader.count({ text: "insert" });
          assert.equal(n % batchSize, 0, `saw ${n} events: a batch was visible in part`);
          assert.ok(n >= last, `count went back from ${last} to ${n}`);
          last = n;
          seen.add(n);
          await new Promise((r) => setTimeout(r, 0));
        }
        assert.equal(messages[1]?.type, "done", messages[1]?.message);
        assert.equal(reader.count({}), total);
        assert.equal(reader.lastSeq(), total - 1);
      } finally {
        reader.close();
      }
      assert.ok(
        [...seen].some((n) => n > 0 && n < total),
        "the reader ran while the writer was adding",
      );
    } finally {
      worker.terminate();
    }
  });
});
