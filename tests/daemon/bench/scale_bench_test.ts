import { benchScale } from "../../../daemon/bench/scale_bench.ts";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

/** The lines of `serve`'s restart, in order: start, intake, searches, the download. */
const RESTART = [
  "scale.serve_start",
  "scale.serve_start_settled",
  "scale.serve_rss_after_start",
  "scale.serve_rss_under_intake",
  "scale.search_p95_role_day",
  "scale.search_p95_text",
  "scale.search_p95_text_role_day",
  "scale.serve_rss_while_searching",
  "scale.serve_rss_while_downloading",
  "scale.serve_rss_high_water",
];

Deno.test("benchScale() measures fill, index, disk, serve, search and export on a small store", async () => {
  await withTempDir(async (dir) => {
    const lines = await benchScale({ events: 4000, dir });
    const names = lines.map((l) => l.bench);
    assertEquals(names, [
      "scale.fill_rate",
      "scale.index_build_rate",
      "scale.disk_segments",
      "scale.disk_merkle",
      "scale.disk_index",
      "scale.disk_total",
      "scale.serve_first_start",
      ...RESTART,
      "scale.export_rate",
      "scale.export_rss_high_water",
    ]);
    // The first start caught up: its memory at rest after that is reported beside the restart's.
    const first = lines.find((l) => l.bench === "scale.serve_first_start")!;
    assert(Number(first.rss_after_catch_up_mib) > 0, JSON.stringify(first));
    // The restart's background work was waited out: detection, index and a verification.
    const settled = lines.find((l) => l.bench === "scale.serve_start_settled")!;
    assertEquals(settled.still_running, undefined, JSON.stringify(settled));
    assert(Number(settled.rss_max_mib) > 0, JSON.stringify(settled));
    for (const l of lines.filter((l) => l !== settled)) {
      assert(Number.isFinite(l.value) && l.value > 0, `${l.bench} = ${l.value}`);
      if (l.reference) assert(l.reference.value > 0 && Number.isFinite(l.ratio), l.bench);
    }
    // A bundle of the middle tenth of 4,000 events was written and counted.
    const exported = lines.find((l) => l.bench === "scale.export_rate")!;
    assert(Number(exported.rows) >= 300 && Number(exported.rows) <= 500, `${exported.rows} rows`);
    // The auditor's download through the Management page held the same range.
    const downloaded = lines.find((l) => l.bench === "scale.serve_rss_while_downloading")!;
    assertEquals(downloaded.events, exported.rows);
    assert(Number(downloaded.bundle_mib) > 0, JSON.stringify(downloaded));
  });
});

Deno.test("benchScale() fills a kept directory once and measures it later, once", async () => {
  await withTempDir(async (dir) => {
    const filled = await benchScale({ events: 3000, dir, fillOnly: true });
    assertEquals(filled.map((l) => l.bench), ["scale.fill_rate"]);
    assertEquals(filled[0]!.note, undefined);
    const segments = [...Deno.readDirSync(`${dir}/data/segments`)].length;
    assert(segments > 0);

    // The export alone, twice: it adds nothing, so the store stays fit to be measured.
    for (let i = 0; i < 2; i++) {
      const exported = await benchScale({ events: 3000, dir, exportOnly: true });
      assertEquals(exported.map((l) => l.bench), [
        "scale.fill_rate",
        "scale.export_rate",
        "scale.export_rss_high_water",
      ]);
    }

    const measured = await benchScale({ events: 3000, dir });
    assertEquals(measured[0]!.bench, "scale.fill_rate");
    assertEquals(measured[0]!.value, filled[0]!.value, "the fill's figures are kept, not re-run");
    assertEquals(measured[0]!.note, "measured when this store was filled (fill.json)");
    assert(measured.some((l) => l.bench === "scale.export_rate"));

    // The restart's phases alone, on the derived state that run kept, as often as wanted.
    for (let i = 0; i < 2; i++) {
      const served = await benchScale({ events: 3000, dir, serveOnly: true });
      assertEquals(served.map((l) => l.bench), [
        "scale.fill_rate",
        ...RESTART,
      ]);
    }

    // Its intake added events: the store is not one of 3,000 any more.
    await assertRejects(() => benchScale({ events: 3000, dir }), { message: "measured before" });
    await assertRejects(() => benchScale({ events: 4000, dir }), { message: "not 4000" });
    // The export alone still measures it, and leaves its derived state: an export reads the log.
    const exported = await benchScale({ events: 3000, dir, exportOnly: true });
    assert(exported.some((l) => l.bench === "scale.export_rate"));
    assert(Deno.statSync(`${dir}/data/index.sqlite`).isFile, "the index is left as it was");
    await assertRejects(
      () => benchScale({ events: 3000, dir: `${dir}/none`, serveOnly: true }),
      { message: "an earlier run filled" },
    );
  });
});

Deno.test("benchScale() measures serve under intake from real WAL and pgAudit sources", async () => {
  await withTempDir(async (dir) => {
    const lines = await benchScale({ events: 2000, dir, sources: { seconds: 3 } });
    const l = lines.find((x) => x.bench === "scale.serve_rss_under_sources");
    assert(l !== undefined, lines.map((x) => x.bench).join(", "));
    assert(l.value > 0 && l.reference!.value > 0, JSON.stringify(l));
    // pgbench ran, and what it did reached the store through the sources.
    assert(Number(l.pgbench_tps) > 0, JSON.stringify(l));
    assert(Number(l.events_stored_per_s) > 0, JSON.stringify(l));
  });
});

Deno.test("benchScale() with a budget builds the index and detection's state in serve, not reindex", async () => {
  await withTempDir(async (dir) => {
    const lines = await benchScale({ events: 3000, dir, budgetS: 60 });
    const names = lines.map((l) => l.bench);
    assertEquals(names.slice(0, 7), [
      "scale.fill_rate",
      "scale.index_build_rate",
      "scale.disk_segments",
      "scale.disk_merkle",
      "scale.disk_index",
      "scale.disk_total",
      "scale.serve_first_start",
    ]);
    const built = lines.find((l) => l.bench === "scale.index_build_rate")!;
    assertEquals(built.note, "serve's background build during the first start, over the budget");
    assert(Number(built.events_indexed) > 0 && built.value > 0, JSON.stringify(built));
    assert(lines.find((l) => l.bench === "scale.disk_index")!.value > 0);
    assert(names.includes("scale.export_rate"));
  });
});

Deno.test("benchScale() with a budget and reindex builds the whole index first, for the searches", async () => {
  await withTempDir(async (dir) => {
    const lines = await benchScale({ events: 3000, dir, budgetS: 60, reindex: true });
    const names = lines.map((l) => l.bench);
    const built = lines.find((l) => l.bench === "scale.index_build_rate")!;
    // `vigil reindex`'s rate, once: not serve's background build.
    assertEquals(names.filter((n) => n === "scale.index_build_rate").length, 1);
    assertEquals(built.note, undefined, JSON.stringify(built));
    assert(built.value > 0, JSON.stringify(built));
    assert(!names.includes("scale.search_skipped"), names.join(", "));
    for (const w of ["role_day", "text", "text_role_day"]) {
      assert(names.includes(`scale.search_p95_${w}`), names.join(", "));
    }
  });
});

Deno.test("benchScale() whose first start runs out of budget measures the restart that catches up, then one with current state", async () => {
  await withTempDir(async (dir) => {
    // No budget at all: detection, rebuilding 80k events (about a second), is still behind at
    // the first look after `/healthz`.
    const lines = await benchScale({ events: 80_000, dir, budgetS: 0, reindex: true });
    const names = lines.map((l) => l.bench);
    const first = lines.find((l) => l.bench === "scale.serve_first_start")!;
    assert(Number(first.detection_behind_at_budget) > 0, JSON.stringify(first));
    assertEquals(first.rss_after_catch_up_mib, undefined);
    const at = names.indexOf("scale.serve_first_start");
    assertEquals(names.slice(at + 1, at + 2 + RESTART.length), [
      "scale.serve_restart_catching_up",
      ...RESTART,
    ]);
    // It caught up and verified before it was stopped; the restart after it found state current.
    const caught = lines[at + 1]!;
    assertEquals(caught.still_running, undefined, JSON.stringify(caught));
    assert(Number(caught.rss_after_catch_up_mib) > 0, JSON.stringify(caught));
    assert(Number(caught.high_water_mib) >= Number(caught.rss_after_catch_up_mib));
    assert(Number(caught.start_s) > 0 && caught.value > 0, JSON.stringify(caught));
    const settled = lines.find((l) => l.bench === "scale.serve_start_settled")!;
    assertEquals(settled.still_running, undefined, JSON.stringify(settled));
  });
});
