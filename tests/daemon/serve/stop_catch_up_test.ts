/**
 * A stop while the search index still catches up from the log does not wait for the catch-up:
 * the index is closed after the batch in hand, before the stop event, holding a whole prefix of
 * the log (no gap, nothing the next start would take for rows changed by hand), and the next
 * start goes on from there to the log's end. The catch-up's length is not the stop's: the
 * index holds fewer events at the stop than the log.
 */

import { parseConfig } from "../../../daemon/config/config.ts";
import { indexPath } from "../../../daemon/index/event_index.ts";
import { Daemon } from "../../../daemon/serve/daemon.ts";
import { Store } from "../../../daemon/store/store.ts";
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals } from "../../support/assert.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

const EVENTS = 100_000;

/** The index's rows: how many, and the highest seq. */
function indexed(data: string): { rows: number; last: number } {
  const db = new DatabaseSync(indexPath(data), { readOnly: true });
  try {
    const r = db.prepare("SELECT count(*) AS n, coalesce(max(seq), -1) AS last FROM events").get()!;
    return { rows: Number(r.n), last: Number(r.last) };
  } finally {
    db.close();
  }
}

Deno.test("a stop during the index's catch-up ends it, keeps a whole prefix, and the next start resumes", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const store = await Store.open(data, { checkpointIntervalMs: 0 });
    for (let i = 0; i < EVENTS; i += 5000) {
      const events = Array.from({ length: 5000 }, (_, k) => testEvent(i + k));
      await store.append({ source: "test", events });
    }
    await store.close();
    const config = parseConfig(
      `data_dir = "${data}"\n[web]\nlisten = "127.0.0.1:0"\n`,
      `${dir}/vigil.toml`,
      { sources: [] },
    );
    const wiring = {
      version: "test",
      sources: () => [],
      reloadConfig: () => Promise.resolve(config),
    };

    const first = await Daemon.start(config, wiring);
    const size = first.store.size;
    await first.stop("test");
    const cut = indexed(data);
    // Stopped mid-way: the catch-up of EVENTS did not run to its end first.
    assert(cut.last < size - 1, `the index reached ${cut.last} of ${size - 1} before the stop`);
    // A whole prefix: seqs 0..last, none missing.
    assertEquals(cut.rows, cut.last + 1);

    const second = await Daemon.start(config, wiring);
    try {
      // Not taken for rows changed by hand (that would rebuild from scratch): it resumes.
      assertEquals(second.index.foundAtStart, []);
      await second.index.drain();
      assertEquals(second.index.lag(), 0);
    } finally {
      await second.stop("test");
    }
    const whole = indexed(data);
    assertEquals(whole.rows, whole.last + 1);
    assert(whole.last >= size, "every event of the log, the first run's stop event too");
  });
});
