/**
 * The start checks (`daemon/store/verify_seals.ts`) read segments' ends ahead of the one they
 * check, several at once; what they report stays the first damaged segment in log order.
 */

import { Store } from "../../../daemon/store/store.ts";
import { checkSeals } from "../../../daemon/store/verify_seals.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";
import { cutShort, fillStore, sealedSegments } from "../serve/_damaged_store.ts";

for (const compressed of [false, true]) {
  Deno.test(`start checks name the first damaged segment of several (${compressed ? "compressed" : "plain"})`, async () => {
    await withTempDir(async (dir) => {
      await fillStore(dir, { sealed: 3, compressed });
      const store = await Store.open(dir, { checkpointIntervalMs: 0 });
      const opened = { size: store.size, checkpoint: store.lastCheckpoint };
      await store.close();
      const sealed = await sealedSegments(dir);
      assertEquals((await checkSeals(dir, opened)).ok, true);
      // Damage later in the log first: it is read ahead, and must not be what is reported.
      await cutShort(sealed[2]!);
      await cutShort(sealed[1]!);
      const r = await checkSeals(dir, opened);
      assert(!r.ok, "the cut segments fail the start checks");
      assertMatch(r.problem?.text ?? "", /seg-0+2600\.vsegz?/);
    });
  });
}
