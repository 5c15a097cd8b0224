/**
 * The start checks' cache of sealed segment ends: an unchanged segment is not read again, and a
 * segment whose file was written to — even with the very bytes it held — is read and checked
 * again, so a cut that the checks find without the cache is found with it.
 */

import { SEAL_CACHE_FILE, SealCache } from "../../../daemon/store/seal_cache.ts";
import { Store } from "../../../daemon/store/store.ts";
import { checkSeals, type OpenedLog } from "../../../daemon/store/verify_seals.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { patchFile, withTempDir } from "../../support/store.ts";
import { cutShort, fillStore, sealedSegments } from "../serve/_damaged_store.ts";

/** What the writer knew of `dir`'s log when it opened it (before any damage below). */
async function openedLog(dir: string): Promise<OpenedLog> {
  const store = await Store.open(dir, { checkpointIntervalMs: 0 });
  const opened = { size: store.size, checkpoint: store.lastCheckpoint };
  await store.close();
  return opened;
}

/** The start checks of `dir` with its cache, as serve runs them; the cache's hits. */
async function check(
  dir: string,
  opened: OpenedLog,
): Promise<{ ok: boolean; hits: number; problem: string }> {
  const cache = await SealCache.open(dir);
  const r = await checkSeals(dir, opened, { cache });
  return { ok: r.ok, hits: cache.hits, problem: r.problem?.text ?? "" };
}

for (const compressed of [false, true]) {
  Deno.test(`seal cache: ${compressed ? "compressed" : "plain"} segments`, async () => {
    await withTempDir(async (dir) => {
      await fillStore(dir, { sealed: 3, compressed });
      const opened = await openedLog(dir);
      const sealed = await sealedSegments(dir);
      assertEquals(sealed.length, 3);
      assertEquals(await check(dir, opened), { ok: true, hits: 0, problem: "" });
      // The next start reads none of them.
      assertEquals(await check(dir, opened), { ok: true, hits: 3, problem: "" });

      // A write that changes nothing in the bytes still changes the file: read again.
      const bytes = await Deno.readFile(sealed[1]!);
      await patchFile(sealed[1]!, 100, bytes.subarray(100, 101));
      assertEquals(await check(dir, opened), { ok: true, hits: 2, problem: "" });

      // A cut is found with the cache as without it, and a failed check is not cached.
      await cutShort(sealed[2]!);
      const cut = await check(dir, opened);
      assert(!cut.ok, "the cut segment fails the start checks");
      assertMatch(cut.problem, /seg-0+5200\.vsegz?/);
      assertEquals((await check(dir, opened)).ok, false);
    });
  });
}

Deno.test("seal cache: an unreadable cache file is read as none", async () => {
  await withTempDir(async (dir) => {
    await fillStore(dir, { sealed: 2, compressed: true });
    const opened = await openedLog(dir);
    assertEquals((await check(dir, opened)).hits, 0);
    await Deno.writeTextFile(`${dir}/${SEAL_CACHE_FILE}`, "{not json");
    assertEquals(await check(dir, opened), { ok: true, hits: 0, problem: "" });
    assertEquals((await check(dir, opened)).hits, 2);
  });
});
