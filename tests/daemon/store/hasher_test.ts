/**
 * The hash Worker's two ways in: a small group sealed on the store's thread (its leaves and the
 * commits handed to the Worker later, several to a message) and a large one (many records, or a
 * few long ones) hashed on the Worker, mixed in every order, one after the other and several in flight. The chain must run
 * on unbroken across the switches and the Merkle node files must hold every durable leaf in
 * order: `verify` recomputes both from the log and checks the signed checkpoints' roots, which
 * come from the node files.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import { Store } from "../../../daemon/store/store.ts";
import { verifyStore } from "../../../daemon/store/verify.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

const OPTS = { checkpointIntervalMs: 0, hashWorker: true };

function events(from: number, n: number): NewEvent[] {
  return Array.from({ length: n }, (_, i) => testEvent(from + i));
}

Deno.test("small groups sealed on the store's thread and large ones on the Worker chain on and verify", async () => {
  await withTempDir(async (dir) => {
    let next = 0;
    const append = (n: number) => {
      const batch = events(next, n);
      next += n;
      return store.append({ source: "s", events: batch, position: String(next) });
    };
    let store = await Store.open(dir, OPTS);
    try {
      // One at a time: each group small, sealed on this thread.
      for (let i = 0; i < 20; i++) await append(1);
      // Large (Worker) and small groups in flight together, in both orders.
      for (let round = 0; round < 5; round++) {
        await Promise.all([append(300), append(1), append(2), append(200), append(1)]);
      }
      for (let i = 0; i < 5; i++) await append(i + 1);
      // Few records but long ones: hashed on the Worker, between small groups.
      const long = events(next, 3).map((e) => ({ ...e, statement: "x".repeat(40_000) }));
      next += 3;
      await Promise.all([
        append(1),
        store.append({ source: "s", events: long, position: String(next - 1) }),
        append(1),
      ]);
      assert((await store.checkpoint(true)) !== null);
      for (let i = 0; i < 10; i++) await append(1);
    } finally {
      await store.close();
    }
    // Open again: the node files as the last run left them, and the chain from the log.
    store = await Store.open(dir, OPTS);
    try {
      assertEquals(store.size, next);
      await Promise.all([append(1), append(150), append(1)]);
      await append(1);
    } finally {
      await store.close();
    }
    const report = await verifyStore(dir);
    assert(report.ok, JSON.stringify(report.problem));
    assertEquals(report.events, next);
    assert(report.checkpoints >= 3);
    assertEquals(report.unsigned, 0);
  });
});
