/**
 * A spool on a full disk, a real one (a small tmpfs; mounting needs root, which CI has): a
 * record written into a file's ground already on disk still goes, the next file cannot be
 * started, and from then on every append is refused and `done` ends with the error, naming the
 * directory; what was acknowledged is handed over, once, by the next open once space returns.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import { EventSpool } from "../../../daemon/spool/mod.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../support/assert.ts";
import { testEvent } from "../../support/store.ts";
import { CAN_MOUNT, fillUpTo, withTmpfs } from "../../support/full_disk.ts";

Deno.test({
  name:
    "a spool on a full disk refuses appends once it cannot start a file, and loses nothing acknowledged",
  ignore: !CAN_MOUNT,
  async fn() {
    await withTmpfs("1024k", async (mnt) => {
      const dir = `${mnt}/spool`;
      const stored: NewEvent[] = [];
      let position: string | undefined;
      const opts = {
        dir,
        name: "p",
        damagedCommand: "TEST_SPOOL_DAMAGED",
        fileBytes: 64 * 1024,
        emitIntervalMs: 1,
        emit: (b: { events: NewEvent[]; position?: string }) => {
          stored.push(...b.events);
          position = b.position;
          return Promise.resolve();
        },
      };
      const spool = await EventSpool.open({ ...opts, position });
      // The first file's 64 KiB are on disk; leave less than the next one needs.
      await fillUpTo(mnt, 16 * 1024);
      const acknowledged: string[] = [];
      let refused: Error | undefined;
      for (let i = 0; i < 200 && refused === undefined; i++) {
        const ev = testEvent(i, { source_pos: `e${i}`, statement: `SELECT '${"x".repeat(900)}'` });
        await spool.append([ev]).then(
          () => acknowledged.push(`e${i}`),
          (error) => (refused = error),
        );
      }
      assert(refused !== undefined, "the spool took everything on a full disk");
      assertMatch(
        refused.message,
        /Cannot start a new spool file in .*spool: .*(No space|os error 28)/,
      );
      assert(acknowledged.length >= 50, `only ${acknowledged.length} acknowledged`);
      const failed = await assertRejects(() => spool.done);
      assertEquals(failed.message, refused.message);
      await assertRejects(() => spool.append([testEvent(999)]));
      await spool.close().catch(() => {});
      // Space returns: the next open hands over what the store does not hold yet, once.
      await Deno.remove(`${mnt}/filler`);
      const next = await EventSpool.open({ ...opts, position });
      await next.close();
      const ids = stored.map((e) => e.source_pos);
      assertEquals(ids, acknowledged);
    });
  },
});
