import assert from "node:assert/strict";
import { openIndexDb, WRITER_CACHE_KIB } from "../../../daemon/index/index_db.ts";
import { withTempDir } from "./_events.ts";

function cacheSize(path: string, options: Parameters<typeof openIndexDb>[1] = {}): number {
  const { db } = openIndexDb(path, options);
  try {
    const row = db.prepare("PRAGMA cache_size").get() as { cache_size: number };
    return row.cache_size;
  } finally {
    db.close();
  }
}

Deno.test("openIndexDb() gives a writer the daemon's small page cache unless told otherwise", async () => {
  await withTempDir((dir) => {
    const path = dir + "/index.sqlite";
    assert.equal(WRITER_CACHE_KIB, 8192);
    assert.equal(cacheSize(path), -WRITER_CACHE_KIB);
    assert.equal(cacheSize(path, { cacheKiB: 32_768 }), -32_768);
  });
});

Deno.test("openIndexDb() refuses a page cache that is not a positive number of KiB", async () => {
  await withTempDir((dir) => {
    for (const cacheKiB of [0, -1, 1.5, NaN]) {
      assert.throws(
        () => openIndexDb(dir + "/index.sqlite", { cacheKiB }),
        (e: Error) => e instanceof RangeError && e.message.includes("bad cacheKiB"),
      );
    }
  });
});
