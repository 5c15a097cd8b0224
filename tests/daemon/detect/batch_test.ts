import { AlertStore } from "../../../daemon/detect/alert_store.ts";
import { attachEngine, detectRange } from "../../../daemon/detect/batch.ts";
import { defaultDetectConfig } from "../../../daemon/detect/config.ts";
import { DetectEngine } from "../../../daemon/detect/engine.ts";
import { Store } from "../../../daemon/store/store.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { generateScenario, SENSITIVE } from "../../support/scenario.ts";
import { withTempDir } from "../../support/store.ts";

const cfg = () => ({ ...defaultDetectConfig(), sensitive_objects: SENSITIVE });

Deno.test("attachEngine() replays the stored log, follows new appends, and matches detectRange()", async () => {
  await withTempDir(async (dir) => {
    const s = generateScenario({ seed: 11, days: 12 });
    const half = Math.floor(s.events.length / 2);
    const store = await Store.open(dir, { checkpointIntervalMs: 0 });
    try {
      await store.append({ source: "shop-log", events: s.events.slice(0, half) });
      const engine = new DetectEngine(cfg());
      // Appends racing the replay are held and fed after it, once each, in order.
      const attaching = attachEngine(engine, store);
      const racing = store.append({ source: "shop-log", events: s.events.slice(half, half + 500) });
      await Promise.all([attaching, racing]);
      for (let i = half + 500; i < s.events.length; i += 1000) {
        await store.append({ source: "shop-log", events: s.events.slice(i, i + 1000) });
      }
      assertEquals(engine.lastSeq, s.events.length - 1);
      assertEquals(engine.events, s.events.length);
      engine.flush();
      const live = engine.list();
      const batch = await detectRange(dir, cfg());
      assertEquals(batch.events, s.events.length);
      assert(live.length >= 5, `only ${live.length} alerts`);
      assertEquals(batch.alerts, live);

      // An ack through the engine lands in the chain and comes back through onDurable unchanged.
      const acked = await engine.ack(live[0]!.id, "ada", "seen", store);
      assertEquals(acked.ack?.by, "ada");
      assertEquals(acked.ack?.seq, s.events.length);
      assertEquals(engine.alerts.get(live[0]!.id)?.ack, acked.ack);
      await assertRejects(() => engine.ack(9999, "ada", "", store), { instanceOf: RangeError });
      await assertRejects(() => engine.ack(1, " ", "", store), { instanceOf: TypeError });
      const last = [];
      for await (const r of readLog(dir, { fromSeq: s.events.length })) last.push(r.event);
      assertEquals(last.length, 1);
      assertEquals(last[0]!.context?.alert_key, live[0]!.key);
      engine.alerts.close();
    } finally {
      await store.close();
    }
    // A rebuild from the log carries the ack.
    const out = AlertStore.memory();
    const rebuilt = await detectRange(dir, cfg(), { alerts: out });
    assertEquals(rebuilt.alerts[0]!.ack?.by, "ada");
    out.close();
  });
});
