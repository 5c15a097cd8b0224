import { readLog } from "../../../daemon/store/log_reader.ts";
import { listSegments } from "../../../daemon/store/segment_file.ts";
import { Store } from "../../../daemon/store/store.ts";
import { storePaths } from "../../../daemon/store/store_open.ts";
import { verifyStore } from "../../../daemon/store/verify.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

Deno.test("vigil compact compresses the sealed segments a writer left uncompressed, and nothing else changes", async () => {
  await withTempDir(async (dir) => {
    // Segments sealed without compression, as a data format 1 writer left them.
    const store = await Store.open(dir, {
      checkpointIntervalMs: 0,
      maxSegmentBytes: 32 * 1024,
      compressSealed: false,
    });
    for (let i = 0; i < 1_500; i += 100) {
      const events = Array.from({ length: 100 }, (_, k) => testEvent(i + k));
      await store.append({ source: "s", events, position: `p${i + 100}` });
      if (i === 700) await store.checkpoint();
    }
    await store.close();
    const before = (await Array.fromAsync(readLog(dir))).map((r) => r.json);
    const segs = await listSegments(storePaths(dir).segments);
    assert(segs.length > 3 && segs.every((s) => !s.compressed));

    const r = await runVigil(["compact", "--data", dir]);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(
      r.stdout,
      new RegExp(`^compressed ${segs.length - 1} sealed segments, \\d+ bytes saved`),
    );
    const after = await listSegments(storePaths(dir).segments);
    assertEquals(after.map((s) => s.compressed === true), segs.map((_, i) => i < segs.length - 1));
    assertEquals((await Array.fromAsync(readLog(dir))).map((r) => r.json), before);
    const report = await verifyStore(dir);
    assert(report.ok, report.problem?.text);
    // A second run finds nothing to do.
    assertMatch(
      (await runVigil(["compact", "--data", dir])).stdout,
      /^compressed 0 sealed segments/,
    );
  });
});

Deno.test("proofs and bundles made before compression are the same after it", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const store = await Store.open(data, {
      checkpointIntervalMs: 0,
      maxSegmentBytes: 32 * 1024,
      compressSealed: false,
    });
    for (let i = 0; i < 1_200; i += 100) {
      const events = Array.from({ length: 100 }, (_, k) => testEvent(i + k));
      await store.append({ source: "s", events, position: `p${i + 100}` });
    }
    await store.close();
    const prove = async (): Promise<string> => {
      const r = await runVigil(["prove", "--data", data, "--seq", "150", "--from-size", "300"]);
      assertEquals(r.code, 0, r.stderr);
      return r.stdout;
    };
    const proofBefore = await prove();
    const bundle = async (out: string): Promise<Map<string, string>> => {
      const r = await runVigil(["export", "--data", data, "--out", out]);
      assertEquals(r.code, 0, r.stderr);
      const files = new Map<string, string>();
      const walk = async (d: string, rel: string): Promise<void> => {
        for await (const e of Deno.readDir(d)) {
          const p = `${d}/${e.name}`;
          if (e.isDirectory) await walk(p, `${rel}${e.name}/`);
          else files.set(`${rel}${e.name}`, Array.from(await Deno.readFile(p)).join(","));
        }
      };
      await walk(out, "");
      return files;
    };
    const before = await bundle(`${dir}/before`);

    assertEquals((await runVigil(["compact", "--data", data])).code, 0);
    assert((await listSegments(storePaths(data).segments)).some((s) => s.compressed));

    // The same proof, and a bundle of the same bytes (exports are deterministic).
    assertEquals(await prove(), proofBefore);
    assertEquals(await bundle(`${dir}/after`), before);
    const check = await runVigil(["verify-bundle", `${dir}/before`]);
    assertEquals(check.code, 0, check.stdout + check.stderr);
  });
});
