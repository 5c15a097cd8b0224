import { assertEquals, assertMatch, assertStringIncludes } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { withTempDir } from "../../support/store.ts";

function manifestPaths(bundle: string): string[] {
  const m = JSON.parse(Deno.readTextFileSync(`${bundle}/manifest.json`));
  return m.files.map((f: { path: string }) => f.path);
}

/** 30 events a second apart from `start`, as JSON lines. */
function lines(start: number): string {
  let s = "";
  for (let k = 0; k < 30; k++) {
    const ts = new Date(start + k * 1000).toISOString();
    s += JSON.stringify({ ts, kind: "session", role: "ada", statement: `SELECT ${k}` }) + "\n";
  }
  return s;
}

/**
 * 60 events over two sources and two UTC days: app's are seqs 0..29 from 23:59:45 on
 * 2026-01-01 (15 on each day), billing-log's seqs 30..59 ten seconds later (5 on the first day).
 */
async function ingested(dir: string): Promise<void> {
  const start = Date.UTC(2026, 0, 1, 23, 59, 45);
  for (const [source, offset] of [["app", 0], ["billing-log", 10_000]] as const) {
    const r = await runVigil(["ingest", "--data", `${dir}/data`, "--source", source], {
      stdin: lines(start + offset),
    });
    assertEquals(r.code, 0, r.stderr);
  }
}

Deno.test("vigil export writes a bundle that vigil verify-bundle accepts, with the kept key", async () => {
  await withTempDir(async (dir) => {
    await ingested(dir);
    const r = await runVigil(["export", "--data", `${dir}/data`, "--out", `${dir}/out`]);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /^exported 60 events \(seq 0 to 59\) in 4 Parquet files, \d+ bytes/);
    const v = await runVigil(["verify-bundle", `${dir}/out`]);
    assertEquals(v.code, 0, v.stdout + v.stderr);
    assertMatch(v.stdout, /^OK: 60 events \(seq 0 to 59\) in 4 files; .* \(the bundled key\)\n$/);
    const pem = await runVigil(["pubkey", "--data", `${dir}/data`]);
    await Deno.writeTextFile(`${dir}/kept.pem`, pem.stdout);
    const kept = await runVigil(["verify-bundle", `${dir}/out`, "--pubkey", `${dir}/kept.pem`]);
    assertEquals(kept.code, 0, kept.stdout);
    assertStringIncludes(kept.stdout, "(the trusted key)");
    const json = JSON.parse((await runVigil(["verify-bundle", `${dir}/out`, "--json"])).stdout);
    assertEquals([json.ok, json.range.events, json.files], [true, 60, 4]);
    // Another process, the same bundle byte for byte: nothing random or timed in any file.
    const again = await runVigil(["export", "--data", `${dir}/data`, "--out", `${dir}/again`]);
    assertEquals(again.code, 0, again.stderr);
    for (
      const f of [...manifestPaths(`${dir}/out`), "manifest.json", "manifest.sig", "README.txt"]
    ) {
      assertEquals(
        await Deno.readFile(`${dir}/again/${f}`),
        await Deno.readFile(`${dir}/out/${f}`),
      );
    }
  });
});

Deno.test("vigil export --from/--to exports the seqs between the first and last event in range", async () => {
  await withTempDir(async (dir) => {
    await ingested(dir);
    // In range: app's seqs 15..19 and billing-log's 35..39; every seq between them goes along.
    const r = await runVigil([
      "export",
      "--data",
      `${dir}/data`,
      "--out",
      `${dir}/out`,
      "--from",
      "2026-01-02T00:00:00Z",
      "--to",
      "2026-01-02T01:00:05+01:00",
    ]);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /^exported 25 events \(seq 15 to 39\) in 3 Parquet files, /);
    assertEquals((await runVigil(["verify-bundle", `${dir}/out`])).code, 0);
  });
});

Deno.test("vigil verify-bundle exits 1 naming a removed file; usage errors exit 2", async () => {
  await withTempDir(async (dir) => {
    await ingested(dir);
    await runVigil(["export", "--data", `${dir}/data`, "--out", `${dir}/out`]);
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/out/manifest.json`));
    const victim = manifest.files[1].path;
    await Deno.remove(`${dir}/out/${victim}`);
    const bad = await runVigil(["verify-bundle", `${dir}/out`]);
    assertEquals(bad.code, 1);
    assertEquals(bad.stdout.split("\n")[0], `TAMPERED: ${victim} is missing`);
    assertMatch(bad.stdout, /\n {2}also: seq \d+ is in no file/);

    assertEquals((await runVigil(["verify-bundle"])).code, 2);
    assertEquals((await runVigil(["verify-bundle", `${dir}/nope`])).code, 2);
    const noKey = await runVigil(["verify-bundle", `${dir}/out`, "--pubkey", `${dir}/nope.pem`]);
    assertEquals(noKey.code, 2);
    const full = await runVigil(["export", "--data", `${dir}/data`, "--out", `${dir}/out`]);
    assertEquals(full.code, 2);
    assertStringIncludes(full.stderr, "is not empty");
    const times = ["--from", "2026-01-03T00:00:00Z", "--to", "2026-01-02T00:00:00Z"];
    const order = await runVigil([
      "export",
      "--data",
      `${dir}/data`,
      "--out",
      `${dir}/o2`,
      ...times,
    ]);
    assertEquals(order.code, 2);
    const late = await runVigil([
      "export",
      "--data",
      `${dir}/data`,
      "--out",
      `${dir}/o3`,
      "--from",
      "2030-01-01T00:00:00Z",
    ]);
    assertEquals(late.code, 1);
    assertStringIncludes(late.stdout, "nothing exported: no signed event");
  });
});
