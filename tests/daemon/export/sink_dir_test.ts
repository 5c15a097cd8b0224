/** The directory sink: whole files or none, checked by reading back, keys kept inside the root. */

import { hashFile } from "../../../daemon/export/run_target.ts";
import { SinkError } from "../../../daemon/export/sink.ts";
import { DirSink } from "../../../daemon/export/sink_dir.ts";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";
import { filesUnder } from "./_bundle_store.ts";

Deno.test("DirSink.put() writes a file under its key and head() confirms it", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/src`, "x".repeat(3_000_000));
    const file = { path: `${dir}/src`, ...await hashFile(`${dir}/src`) };
    const sink = new DirSink("nas", `${dir}/archive/`);
    let sent = 0;
    const stored = await sink.put("source=a/date=2026-01-01/0-1.parquet", file, {
      onBytes: (n) => (sent += n),
    });
    assertEquals([stored.bytes, stored.sha256, sent], [file.bytes, file.sha256, file.bytes]);
    assert(await sink.matches(stored, file));
    assertEquals(await filesUnder(`${dir}/archive`), ["source=a/date=2026-01-01/0-1.parquet"]);
    assertEquals(await sink.head("source=a/missing"), null);
    // A second put of the same key replaces it whole; no temporary file is left.
    await Deno.writeTextFile(`${dir}/src`, "y");
    const small = { path: `${dir}/src`, ...await hashFile(`${dir}/src`) };
    await sink.put("source=a/date=2026-01-01/0-1.parquet", small);
    assertEquals(
      await Deno.readTextFile(`${dir}/archive/source=a/date=2026-01-01/0-1.parquet`),
      "y",
    );
    assertEquals((await filesUnder(`${dir}/archive`)).length, 1);
  });
});

Deno.test("DirSink refuses keys that would leave its root, and says where it failed", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/src`, "z");
    const file = { path: `${dir}/src`, ...await hashFile(`${dir}/src`) };
    const sink = new DirSink("nas", `${dir}/archive`);
    for (const key of ["../escape", "a//b", "/abs", "a/./b"]) {
      await assertRejects(() => sink.put(key, file), SinkError);
    }
    await Deno.writeTextFile(`${dir}/blocker`, "");
    const blocked = new DirSink("nas", `${dir}/blocker`);
    const err = await assertRejects(() => blocked.put("k/f", file), SinkError);
    assert(err.message.includes(`Cannot write k/f to dir ${dir}/blocker`), err.message);
  });
});
