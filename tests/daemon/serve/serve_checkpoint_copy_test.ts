/**
 * The newest segments removed together with the checkpoints signed after them: nothing in the
 * data directory says they existed, so only a checkpoint kept elsewhere catches it. A real
 * `vigil serve` with `[store] checkpoint_copy` appends every checkpoint it signs to the copy; the
 * data directory is then put back as it was one run earlier (exactly what removing the tail and
 * cutting `checkpoints.jsonl` back leaves). `vigil verify` alone says OK; with the copy or with a
 * bundle exported in between it says TAMPERED, and `serve` with the copy configured turns
 * unhealthy at start and records STORE_DAMAGED.
 */

import { readCheckpoints } from "../../../daemon/store/checkpoint.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { copyDir, testEvent, withTempDir } from "../../support/store.ts";
import { Served } from "./_served.ts";

/** Serves `data` once, from start to a clean stop, with the copy configured. */
async function serveOnce(dir: string, data: string, copy: string): Promise<void> {
  const s = await Served.start(dir, data, [`checkpoint_copy = "${copy}"`]);
  try {
    await s.until((_, h) => h.store.integrity?.last_verification != null, "verified at start");
    await s.stop();
  } finally {
    await s.kill();
  }
}

Deno.test("a checkpoint copy catches the newest segments removed with their checkpoints", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const copy = `${dir}/kept/checkpoints.jsonl`;
    await Deno.mkdir(`${dir}/kept`);
    const ingest = await runVigil(["ingest", "--data", data, "--source", "test"], {
      stdin: Array.from({ length: 50 }, (_, i) => JSON.stringify(testEvent(i)) + "\n").join(""),
    });
    assertEquals(ingest.code, 0, ingest.stderr);

    await serveOnce(dir, data, copy);
    const before = `${dir}/before`;
    await copyDir(data, before);
    // A second run signs checkpoints past everything `before` holds; a bundle is exported.
    await serveOnce(dir, data, copy);
    const exported = await runVigil(["export", "--data", data, "--out", `${dir}/bundle`]);
    assertEquals(exported.code, 0, exported.stderr);

    // The copy holds every checkpoint of both runs, in the order signed, as checkpoints.jsonl does.
    const kept = (await readCheckpoints(copy)).checkpoints;
    const onBox = (await readCheckpoints(`${data}/checkpoints.jsonl`)).checkpoints;
    assert(kept.length >= 2, JSON.stringify(kept));
    assertEquals(kept, onBox.slice(onBox.length - kept.length));
    const smaller = (await readCheckpoints(`${before}/checkpoints.jsonl`)).checkpoints.at(-1)!;
    assert(kept.at(-1)!.size > smaller.size, "the second run signed past the earlier state");

    // The intact store holds against the copy and the bundle.
    for (const against of [copy, `${dir}/bundle`, `${dir}/bundle/manifest.json`]) {
      const r = await runVigil(["verify", "--data", data, "--checkpoint", against]);
      assertEquals(r.code, 0, `${against}: ${r.stdout}${r.stderr}`);
    }
    // The data directory as one run earlier: on its own it verifies, which is why a copy is kept.
    const data2 = `${dir}/rolled-back`;
    await copyDir(before, data2);
    const alone = await runVigil(["verify", "--data", data2]);
    assertEquals(alone.code, 0, alone.stdout + alone.stderr);
    for (const against of [copy, `${dir}/bundle`]) {
      const r = await runVigil(["verify", "--data", data2, "--checkpoint", against]);
      assertEquals(r.code, 1, `${against}: ${r.stdout}${r.stderr}`);
      assertMatch(
        r.stdout,
        /^TAMPERED: .*signed checkpoint covers \d+ events: events were removed/m,
      );
    }

    // Served with the copy: unhealthy from the start checks, and STORE_DAMAGED in the chain.
    const size = smaller.size;
    const s = await Served.start(dir, data2, [`checkpoint_copy = "${copy}"`]);
    try {
      const h = await s.until(
        (code, h) => code === 503 && h.store.integrity?.state === "damaged",
        "healthz says the store is damaged",
      );
      assertEquals(h.store.integrity!.start_check.ok, false);
      assertMatch(h.store.integrity!.problem ?? "", /newest events were removed/);
      await s.stop();
    } finally {
      await s.kill();
    }
    const damaged = [];
    for await (const r of readLog(data2, { fromSeq: size })) {
      if (r.event.command === "STORE_DAMAGED") damaged.push(r.event);
    }
    assertEquals(damaged[0]?.context?.check, "start");
    assertMatch(damaged[0]?.error ?? "", new RegExp(`checkpoint copy ${copy} holds a signed`));
  });
});

Deno.test("checkpoint_copy must be an absolute file path outside the data directory", async () => {
  await withTempDir(async (dir) => {
    const cases: [string, RegExp][] = [
      ["kept.jsonl", /absolute path of a file/],
      [`${dir}/data/kept.jsonl`, /lies inside the data directory/],
      [`${dir}/kept/`, /absolute path of a file/],
    ];
    for (const [copy, message] of cases) {
      await Deno.writeTextFile(
        `${dir}/vigil.toml`,
        `data_dir = "${dir}/data"\n[store]\ncheckpoint_copy = "${copy}"\n`,
      );
      const r = await runVigil(["validate", "--config", `${dir}/vigil.toml`]);
      assert(r.code !== 0, `${copy} is refused`);
      assertMatch(r.stderr + r.stdout, /checkpoint_copy/);
      assertMatch(r.stderr + r.stdout, message);
    }
  });
});

Deno.test("a checkpoint copy that cannot be written makes serve unhealthy and says why", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    // Its directory does not exist: every append fails.
    const copy = `${dir}/absent/checkpoints.jsonl`;
    const s = await Served.start(dir, data, [
      `checkpoint_copy = "${copy}"`,
      'checkpoint_interval = "1s"',
    ]);
    try {
      const h = await s.until(
        (code, h) => code === 503 && h.store.integrity?.checkpoint_copy?.error != null,
        "healthz names the failed copy",
      );
      const c = h.store.integrity!.checkpoint_copy!;
      assertEquals([c.path, c.last_size, h.store.healthy], [copy, null, false]);
      assertMatch(c.error!, /cannot append to the checkpoint copy .*absent\/checkpoints\.jsonl/);
      await s.stop();
    } finally {
      await s.kill();
    }
  });
});
