import { Store } from "../../../daemon/store/store.ts";
import { verifyStore } from "../../../daemon/store/verify.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../support/assert.ts";
import { testEvent } from "../../support/store.ts";
import { CAN_MOUNT, fillUpTo, withTmpfs } from "../../support/full_disk.ts";

// A real full file system: a small tmpfs (mounting needs root, which CI has).
Deno.test({
  name:
    "Store.append() on a full disk fails cleanly, keeps what it had and resumes when space returns",
  ignore: !CAN_MOUNT,
  async fn() {
    await withTmpfs("1536k", async (mnt) => {
      const dir = `${mnt}/data`;
      const store = await Store.open(dir, { checkpointIntervalMs: 0, hashWorker: false });
      const first = await store.append({ source: "s", events: [testEvent(0)], position: "p0" });
      assertEquals(first.firstSeq, 0);
      // Leave about 100 KiB free, then offer a group of ~400 KiB.
      await fillUpTo(mnt, 100 * 1024);
      const big = Array.from(
        { length: 1000 },
        (_, i) => testEvent(i + 1, { statement: "x".repeat(300) }),
      );
      const err = await assertRejects(() =>
        store.append({ source: "s", events: big, position: "p1" })
      );
      assertMatch(err.message, /cannot write|No space/i);
      // Nothing of the refused group stayed; the store takes the next batch once space returns.
      await Deno.remove(`${mnt}/filler`);
      const next = await store.append({ source: "s", events: [testEvent(5000)], position: "p2" });
      assertEquals(next.firstSeq, 1);
      assertEquals(store.position("s"), "p2");
      await store.close();
      const report = await verifyStore(dir);
      assert(report.ok, report.problem?.text);
      assertEquals(report.events, 2);
    });
  },
});
