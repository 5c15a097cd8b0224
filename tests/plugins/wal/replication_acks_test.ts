/**
 * AckTracker: what a status update may report as flushed. Received positions never count;
 * acks do, forward only; keepalive positions count only after an idle ack for the last
 * message taken, and stop counting the moment another message is taken.
 */
import { assertEquals, assertThrows } from "../../support/assert.ts";
import { AckTracker } from "../../../plugins/wal/replication_acks.ts";

Deno.test("AckTracker reports only acked positions, never received ones", () => {
  const acks = new AckTracker("s", 100n, 100n);
  assertEquals([acks.durable, acks.confirmed], [100n, 100n]);
  acks.taken(150n);
  acks.taken(200n);
  acks.keepalive(500n);
  assertEquals(acks.confirmed, 100n);
  acks.ack(150n);
  assertEquals([acks.durable, acks.confirmed], [150n, 150n]);
  acks.keepalive(600n);
  assertEquals(acks.confirmed, 150n);
});

Deno.test("AckTracker.ack() refuses to go backwards, and accepts the same LSN again", () => {
  const acks = new AckTracker("s", 100n, 100n);
  acks.ack(300n);
  acks.ack(300n);
  assertThrows(() => acks.ack(299n), {
    instanceOf: RangeError,
    message: /Cannot ack 0\/12B on slot "s": 0\/12C was acked before/,
  });
  assertEquals(acks.durable, 300n);
});

Deno.test("AckTracker confirms keepalive positions after an idle ack until the next message", () => {
  const acks = new AckTracker("s", 100n, 100n);
  acks.taken(120n);
  acks.taken(200n); // a Commit whose end LSN is 200
  acks.ack(200n, { idle: true });
  acks.keepalive(180n); // behind: ignored
  assertEquals(acks.confirmed, 200n);
  acks.keepalive(400n);
  assertEquals([acks.durable, acks.confirmed], [200n, 400n]);
  acks.taken(450n); // a new transaction starts: pending again
  acks.keepalive(900n);
  assertEquals(acks.confirmed, 400n);
  acks.ack(300n); // a late ack below the confirmed keepalive changes nothing reported
  assertEquals([acks.durable, acks.confirmed], [300n, 400n]);
});

Deno.test("AckTracker refuses an idle ack that is not for the last message taken", () => {
  const acks = new AckTracker("vigil", 100n, 100n);
  acks.taken(200n);
  acks.taken(200n); // e.g. the next transaction's Begin at the same LSN is not a Commit...
  acks.taken(260n); // ...but this one is taken after the Commit that ended at 200
  assertThrows(() => acks.ack(200n, { idle: true }), {
    instanceOf: RangeError,
    message: /slot "vigil" as idle: the last message taken starts at 0\/104/,
  });
  assertEquals(acks.durable, 100n);
  acks.keepalive(1000n);
  assertEquals(acks.confirmed, 100n);
  // Before anything is taken, the resume position may be acked as idle.
  const fresh = new AckTracker("s", 100n, 100n);
  fresh.ack(100n, { idle: true });
  fresh.keepalive(150n);
  assertEquals(fresh.confirmed, 150n);
});

Deno.test("AckTracker keeps the slot's position as the floor when the caller resumes earlier", () => {
  // The caller's store says 100; the slot had already confirmed 300.
  const acks = new AckTracker("s", 300n, 100n);
  assertEquals(acks.confirmed, 300n);
  acks.ack(200n); // allowed: not behind the caller's own acks
  assertEquals([acks.durable, acks.confirmed], [300n, 300n]);
  assertThrows(() => acks.ack(150n), RangeError);
});

Deno.test("AckTracker with holdKeepalives confirms an idle keepalive only once it is acked", () => {
  const acks = new AckTracker("s", 100n, 100n, { holdKeepalives: true });
  acks.taken(200n);
  assertEquals(acks.keepalive(300n), false, "not idle: nothing held");
  acks.ack(200n, { idle: true });
  assertEquals(acks.keepalive(400n), true);
  assertEquals(acks.keepalive(350n), false, "behind the one held");
  assertEquals([acks.idleKeepalive, acks.confirmed], [400n, 200n]);
  acks.ack(400n, { idle: true }); // Stored by the caller: now it may be confirmed.
  assertEquals([acks.durable, acks.confirmed], [400n, 400n]);
  assertEquals(acks.keepalive(500n), true, "still idle");
  assertThrows(() => acks.ack(600n, { idle: true }), RangeError); // No keepalive got there.
  acks.taken(700n);
  assertEquals(acks.keepalive(800n), false, "pending again");
  assertEquals(acks.confirmed, 400n);
});
