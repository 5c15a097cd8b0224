import assert from "node:assert/strict";
import { benchIndexInsert } from "../../../daemon/index/bench.ts";

Deno.test("benchIndexInsert() reports both workloads in the vigil bench shape", async () => {
  const lines = await benchIndexInsert({ events: 2000, batch: 500 });
  assert.deepEqual(lines.map((l) => l.bench), ["index_insert_statements", "index_insert_mixed"]);
  for (const l of lines) {
    assert.equal(l.unit, "events/s");
    assert.ok(l.value > 0);
    assert.equal(l.reference.value, 100_000);
    assert.equal(l.ratio, Math.round((l.value / l.reference.value) * 100) / 100);
  }
});
