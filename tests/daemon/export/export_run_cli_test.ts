/**
 * `vigil export-run` as an operator runs it: a directory target exported and then up to date,
 * local retention applied, and a bad config key or an unknown target refused with exit 2.
 */

import { assertEquals, assertMatch } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { segmentPaths, testEvent, withTempDir } from "../../support/store.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assertArchiveHolds } from "./_archive.ts";
import { storedEvents } from "./_bundle_store.ts";

async function store(data: string): Promise<void> {
  const s = await Store.open(data, {
    checkpointIntervalMs: 0,
    hashWorker: false,
    maxSegmentBytes: 4096,
  });
  for (let i = 0; i < 100; i++) await s.append({ source: "test", events: [testEvent(i)] });
  await s.close();
}

Deno.test("vigil export-run exports to a directory target, then deletes what retention allows", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await store(data);
    const config = `${dir}/vigil.toml`;
    await Deno.writeTextFile(
      config,
      `[[exports]]\nname = "nas"\ntype = "dir"\npath = "${dir}/archive"\n`,
    );
    const first = await runVigil(["export-run", "--data", data, "--config", config]);
    assertEquals(first.code, 0, first.stderr);
    assertMatch(first.stdout, /^nas: exported run 000000000000-000000000099: \d+ files, \d+ bytes/);
    await assertArchiveHolds(`${dir}/archive`, await storedEvents(data));
    const before = (await segmentPaths(data)).length;
    const second = await runVigil([
      "export-run",
      "--data",
      data,
      "--config",
      config,
      "--retain-local-days",
      "0",
    ]);
    assertEquals(second.code, 0, second.stderr);
    assertMatch(second.stdout, /nas: up to date \(holds seqs below 100\)/);
    assertMatch(second.stdout, /retention: deleted \d+ segment\(s\), seqs 0 to \d+/);
    assertEquals((await segmentPaths(data)).length, 2, `of ${before}`);
    const verify = await runVigil(["verify", "--data", data]);
    assertEquals(verify.code, 0, verify.stderr + verify.stdout);
  });
});

Deno.test("vigil export-run refuses a bad config key or an unknown target with exit 2", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await store(data);
    const config = `${dir}/vigil.toml`;
    await Deno.writeTextFile(
      config,
      `[[exports]]\nname = "nas"\ntype = "dir"\npath = "/x"\nbucket = "b"\n`,
    );
    let r = await runVigil(["export-run", "--data", data, "--config", config]);
    assertEquals(r.code, 2);
    assertMatch(r.stderr, /exports "nas": unknown key "bucket" for type "dir"/);
    await Deno.writeTextFile(config, `[[exports]]\nname = "nas"\ntype = "dir"\npath = "/x"\n`);
    r = await runVigil(["export-run", "--data", data, "--config", config, "--target", "usb"]);
    assertEquals(r.code, 2);
    assertMatch(r.stderr, /no \[\[exports\]\] target named usb/);
    r = await runVigil(["export-run", "--data", data]);
    assertEquals(r.code, 2);
    assertMatch(r.stderr, /missing --config/);
  });
});
