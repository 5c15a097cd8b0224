/**
 * Bundle downloads from the Management page: a tar that the system `tar` lists and extracts and
 * whose contents `vigil verify-bundle` accepts, the download in the UI's own trail, the temp dir
 * gone afterwards — also when the reader stalls — at most two staged at once, and refusals by
 * role, CSRF token and period.
 */

import {
  assert,
  assertEquals,
  assertEventually,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "../support/assert.ts";
import { runVigil } from "../support/cli.ts";
import { DOWNLOAD_PREFIX, MAX_DOWNLOADS } from "../../web/bundle_download.ts";
import { Client } from "./_client.ts";
import { uiEvents, withWorld, type World } from "./_harness.ts";

const PERIOD = { from: "2025-12-30", to: "2026-01-02" };

async function tar(args: string[]): Promise<string> {
  const out = await new Deno.Command("tar", { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (out.code !== 0) throw new Error(`tar ${args.join(" ")} failed: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

/** Names in the data dir left by downloads. */
async function leftovers(dataDir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const d of Deno.readDir(dataDir)) {
    if (d.name.startsWith(DOWNLOAD_PREFIX)) out.push(d.name);
  }
  return out;
}

/** Signs in as `user` and asks for the bundle of PERIOD from the Management page. */
async function downloadAs(w: World, user: string): Promise<{ c: Client; res: Response }> {
  const c = new Client(w.app);
  await c.login(user);
  const res = await c.post("/management/bundle", { _csrf: await c.csrf("/management"), ...PERIOD });
  return { c, res };
}

Deno.test("POST /management/bundle streams a tar that verify-bundle accepts", async () => {
  await withWorld({}, async (w) => {
    const tmp = await Deno.makeTempDir({ prefix: "vigil-bundle-dl-" });
    try {
      const { res } = await downloadAs(w, "auditor1");
      assertEquals(res.status, 200);
      assertEquals(res.headers.get("Content-Type"), "application/x-tar");
      assertEquals(
        res.headers.get("Content-Disposition"),
        'attachment; filename="vigil-bundle-20251230T000000Z-20260102T000000Z.tar"',
      );
      await Deno.writeFile(`${tmp}/b.tar`, new Uint8Array(await res.arrayBuffer()));
      assertEquals(await leftovers(w.dir), [], "the temp dir is removed");

      const listed = (await tar(["-tf", `${tmp}/b.tar`])).trim().split("\n");
      assert(listed.includes("manifest.json"), listed.join(" "));
      assert(listed.includes("manifest.sig"), listed.join(" "));
      assert(listed.some((n) => n.endsWith(".parquet")), listed.join(" "));

      await Deno.mkdir(`${tmp}/x`);
      await tar(["-x", "-f", `${tmp}/b.tar`, "-C", `${tmp}/x`]);
      const ok = await runVigil(["verify-bundle", `${tmp}/x`]);
      assertEquals(ok.code, 0, ok.stdout + ok.stderr);
      const manifest = JSON.parse(await Deno.readTextFile(`${tmp}/x/manifest.json`));
      // Every seeded event (seqs 0–122) falls in the period; the UI's own later ones are not
      // signed yet and stay out.
      assertEquals(manifest.range, { first_seq: 0, last_seq: 122, events: 123 });
      assertEquals(manifest.requested, {
        from: "2025-12-30T00:00:00.000000Z",
        to: "2026-01-02T00:00:00.000000Z",
      });
      assertEquals(res.headers.get("X-Vigil-Bundle-Events"), "123");

      // The same bundle with one byte of a Parquet file changed must fail: the test can fail.
      const pq = listed.find((n) => n.endsWith(".parquet"))!;
      const bytes = await Deno.readFile(`${tmp}/x/${pq}`);
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
      await Deno.writeFile(`${tmp}/x/${pq}`, bytes);
      const bad = await runVigil(["verify-bundle", `${tmp}/x`]);
      assert(bad.code !== 0, "a changed bundle fails verification");

      const trail = (await uiEvents(w.dir)).filter((e) => e.command === "EXPORT");
      assertEquals(trail.length, 1);
      assertEquals(trail[0]!.role, "auditor1");
      assertEquals(trail[0]!.object, "bundle");
      assertEquals(trail[0]!.context, {
        from: "2025-12-30T00:00:00.000000Z",
        to: "2026-01-02T00:00:00.000000Z",
      });
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  });
});

Deno.test("POST /management/bundle refuses an operator, a missing token and a bad period", async () => {
  await withWorld({}, async (w) => {
    const op = new Client(w.app);
    await op.login("operator1");
    const refused = await op.post("/management/bundle", { _csrf: await op.csrf(), ...PERIOD });
    assertEquals(refused.status, 403);
    await refused.body?.cancel();

    const admin = new Client(w.app);
    await admin.login("admin1");
    const noToken = await admin.post("/management/bundle", PERIOD);
    assertEquals(noToken.status, 403);
    assertStringIncludes(await noToken.text(), "CSRF");
    const csrf = await admin.csrf("/management");
    const backwards = await admin.post("/management/bundle", {
      _csrf: csrf,
      from: PERIOD.to,
      to: PERIOD.from,
    });
    assertEquals(backwards.status, 400);
    assertMatch(await backwards.text(), /Bad period: from: must be before to/);
    const empty = await admin.post("/management/bundle", {
      _csrf: csrf,
      from: "2020-01-01",
      to: "2020-01-02",
    });
    assertEquals(empty.status, 404);
    assertStringIncludes(await empty.text(), "Nothing to export");
    assertEquals(await leftovers(w.dir), []);
    assertEquals((await uiEvents(w.dir)).filter((e) => e.object === "bundle").length, 1);
  });
});

Deno.test("a bundle download the browser abandons removes its temp dir and is recorded", async () => {
  await withWorld({}, async (w) => {
    const { res } = await downloadAs(w, "admin1");
    assertEquals(res.status, 200);
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    assertEquals(await leftovers(w.dir), []);
    const trail = (await uiEvents(w.dir)).filter((e) => e.object === "bundle");
    assertEquals(trail.length, 2);
    assertMatch(trail[1]!.error ?? "", /did not finish/);
  });
});

Deno.test("a bundle download removes a download temp dir a crash left a day ago", async () => {
  await withWorld({}, async (w) => {
    const stale = `${w.dir}/${DOWNLOAD_PREFIX}crashed`, fresh = `${w.dir}/${DOWNLOAD_PREFIX}live`;
    await Deno.mkdir(`${stale}/bundle`, { recursive: true });
    await Deno.mkdir(fresh);
    const dayAgo = new Date(Date.now() - 25 * 3600_000);
    await Deno.utime(stale, dayAgo, dayAgo);
    const { res } = await downloadAs(w, "auditor1");
    assertEquals(res.status, 200);
    await res.arrayBuffer();
    assertEquals(await leftovers(w.dir), [`${DOWNLOAD_PREFIX}live`], "a running one is kept");
    await Deno.remove(fresh);
  });
});

Deno.test("a bundle download whose reader stalls is cut off: its staged copy is removed and recorded", async () => {
  await withWorld({}, async (w) => {
    w.deps.downloadStallMs = 200;
    const { res } = await downloadAs(w, "auditor1");
    assertEquals(res.status, 200);
    const reader = res.body!.getReader();
    await reader.read();
    assertEquals((await leftovers(w.dir)).length, 1, "staged while it is read");
    // The reader takes nothing more: the download does not wait for it.
    await assertEventually(async () => (await leftovers(w.dir)).length === 0, {
      message: "the staged copy removed",
    });
    const trail = await assertEventually(async () => {
      const t = (await uiEvents(w.dir)).filter((e) => e.object === "bundle");
      return t.length === 2 ? t : undefined;
    }, { message: "the cut-off download recorded" });
    assertMatch(trail[1]!.error ?? "", /did not finish: the browser read nothing for/);
    await assertRejects(() => reader.read());
  });
});

Deno.test("at most two bundles are staged at once; a third download is refused with 503 and recorded", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    await c.login("auditor1");
    const csrf = await c.csrf("/management");
    const open: ReadableStreamDefaultReader<Uint8Array>[] = [];
    for (let i = 0; i < MAX_DOWNLOADS; i++) {
      const res = await c.post("/management/bundle", { _csrf: csrf, ...PERIOD });
      assertEquals(res.status, 200);
      const reader = res.body!.getReader();
      await reader.read();
      open.push(reader);
    }
    const third = await c.post("/management/bundle", { _csrf: csrf, ...PERIOD });
    assertEquals(third.status, 503);
    assertStringIncludes(await third.text(), "at most 2 at a time");
    assertEquals((await leftovers(w.dir)).length, MAX_DOWNLOADS);
    const refused = (await uiEvents(w.dir)).filter((e) => e.object === "bundle").at(-1)!;
    assertMatch(refused.error ?? "", /^refused: /);

    for (const r of open) await r.cancel();
    await assertEventually(async () => (await leftovers(w.dir)).length === 0);
    const again = await c.post("/management/bundle", { _csrf: csrf, ...PERIOD });
    assertEquals(again.status, 200, "a slot is free once a download ended");
    await again.arrayBuffer();
  });
});

Deno.test("a bundle download holds the daemon's background readings of the log while it writes the bundle", async () => {
  const holds: { why: string; settled: boolean }[] = [];
  const holdBackground = (until: Promise<unknown>, why: string): void => {
    const h = { why, settled: false };
    holds.push(h);
    const end = (): void => void (h.settled = true);
    until.then(end, end);
  };
  await withWorld({ holdBackground }, async (w) => {
    const { c, res } = await downloadAs(w, "auditor1");
    assertEquals(res.status, 200);
    // Held once, and over by the time the bundle is sent: the rest is a stream of files.
    assertEquals(holds, [{ why: "a bundle download", settled: true }]);
    await res.arrayBuffer();
    // A refused download holds nothing.
    const bad = await c.post("/management/bundle", {
      _csrf: await c.csrf("/management"),
      from: "x",
    });
    assertEquals(bad.status, 400);
    assertEquals(holds.length, 1);
  });
});
