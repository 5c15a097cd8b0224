/**
 * Bundles and export targets written before bundle version 2 (`source=<name>/date=<d>/` at the
 * top, manifest version 1) still verify with `vigil verify-bundle`, and a byte changed in one of
 * them is still caught. `testdata/layout_v1.tar.gz` was written by the release before the
 * change, from `_bundle_store.ts`'s store: `bundle/` is `vigil export --from
 * 2026-01-01T01:00:00Z` of its 150 events (seqs 2 to 149), `archive/` a directory target after
 * two exporter runs (seqs 0 to 119, then 120 to 149).
 */

import { parseManifest } from "../../../daemon/export/manifest.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { withTempDir } from "../../support/store.ts";
import { archiveRuns, assertRunVerifies } from "./_archive.ts";
import { filesUnder } from "./_bundle_store.ts";

const FIXTURE = new URL("./testdata/layout_v1.tar.gz", import.meta.url).pathname;

async function extract(dir: string): Promise<void> {
  const out = await new Deno.Command("tar", {
    args: ["-xzf", FIXTURE, "-C", dir],
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
}

Deno.test("vigil verify-bundle accepts a version 1 bundle and names a byte changed in it", async () => {
  await withTempDir(async (dir) => {
    await extract(dir);
    const m = parseManifest(await Deno.readFile(`${dir}/bundle/manifest.json`));
    assertEquals([m.version, m.range.first_seq, m.range.last_seq], [1, 2, 149]);
    assert(m.files.every((f) => f.path.startsWith(`source=${f.source}/date=${f.date}/`)));
    const ok = await runVigil(["verify-bundle", `${dir}/bundle`]);
    assertEquals(ok.code, 0, ok.stdout + ok.stderr);
    assertMatch(ok.stdout, /^OK: 148 events \(seq 2 to 149\) in 9 files/);

    const f = m.files[3]!;
    const bytes = await Deno.readFile(`${dir}/bundle/${f.path}`);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await Deno.writeFile(`${dir}/bundle/${f.path}`, bytes);
    const bad = await runVigil(["verify-bundle", `${dir}/bundle`]);
    assertEquals(bad.code, 1, bad.stdout + bad.stderr);
    assertMatch(bad.stdout, new RegExp(`^TAMPERED: ${f.path}: SHA-256 `));
  });
});

Deno.test("each run of a version 1 export target, put together as its README says, verifies", async () => {
  await withTempDir(async (dir) => {
    await extract(dir);
    const archive = `${dir}/archive`;
    assert((await filesUnder(archive)).some((p) => p.startsWith("source=billing/date=")));
    const runs = await archiveRuns(archive);
    assertEquals(runs, ["000000000000-000000000119", "000000000120-000000000149"]);
    for (const run of runs) {
      await assertRunVerifies(archive, run, `${dir}/check-${run}`);
      const r = await runVigil(["verify-bundle", `${dir}/check-${run}`]);
      assertEquals(r.code, 0, r.stdout + r.stderr);
    }
  });
});
