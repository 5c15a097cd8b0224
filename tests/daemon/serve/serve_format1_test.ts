/**
 * A store of data format 1 (an older release's, without commit records) served after the
 * upgrade: a real `vigil serve` starts healthy on it, its start checks pass, the events API
 * shows every event as the log holds it, it appends, and afterwards the directory is of the
 * current format and verifies whole.
 */

import { AccessStore } from "../../../daemon/access/mod.ts";
import { DATA_FORMAT, FORMAT_FILE } from "../../../daemon/store/format.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { verifyStore } from "../../../daemon/store/verify.ts";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { toFormat1 } from "../../support/format1.ts";
import { segmentPaths, testEvent, withTempDir } from "../../support/store.ts";
import { Served } from "./_served.ts";

Deno.test("vigil serve starts healthy on a format 1 store, shows its events, and moves it to the current format", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const store = await Store.open(data, {
      checkpointIntervalMs: 0,
      hashWorker: false,
      maxSegmentBytes: 4096,
    });
    for (let i = 0; i < 40; i++) {
      await store.append({ source: "a", events: [testEvent(i)], position: `a${i + 1}` });
      if (i % 10 === 9) await store.checkpoint();
    }
    await store.close();
    const stored = (await Array.fromAsync(readLog(data))).map((r) => r.event);
    await toFormat1(data);
    assert((await segmentPaths(data)).length > 3, "sealed segments and an active one");
    const access = AccessStore.open(data);
    const { token } = access.tokens.create("reader", ["read"], "test");
    access.close();

    const served = await Served.start(dir, data);
    try {
      const h = await served.until((code) => code === 200, "healthy on the format 1 store");
      assertEquals(h.store.integrity?.start_check.ok, true);
      // The index is built from the log in the background after the start.
      let shown: unknown[] = [];
      await assertEventually(async () => {
        const r = await fetch(`${served.base}/api/v1/events?source=test&limit=100`, {
          headers: { Authorization: `Bearer ${token}` },
        });
        assertEquals(r.status, 200);
        shown = ((await r.json()) as { events: AuditEvent[] }).events.sort((x, y) => x.seq - y.seq);
        return shown.length === stored.length;
      }, { timeoutMs: 60_000, message: "the events API shows the old store's events" });
      assertEquals(shown, stored, "every event of the old store, as the log holds it");
    } finally {
      await served.stop();
    }
    assertEquals(await Deno.readTextFile(`${data}/${FORMAT_FILE}`), `vigil-data ${DATA_FORMAT}\n`);
    const v = await verifyStore(data);
    assert(v.ok, v.problem?.text);
    assert(v.events > stored.length, "the daemon's own events were appended after the old ones");
  });
});
