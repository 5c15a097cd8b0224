/**
 * The proxy's recorders against a stand-in for the pipeline whose emits the test completes by
 * hand: enforce mode's group commit makes the statements of all sessions that wait while one
 * emit is in flight share the next one (one durable flush), and a refused emit is an error to
 * each of its callers and to no one else; observe mode's backlog stores what it took.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import type { SourceBatch, SourceContext } from "../../../daemon/source.ts";
import { BacklogRecorder, GroupRecorder } from "../../../plugins/proxy/recorder.ts";
import { assert, assertEquals } from "../../support/assert.ts";

/** A context whose emits wait until the test settles them. */
function handContext(): {
  ctx: SourceContext;
  emits: { batch: SourceBatch; settle: (error?: Error) => void }[];
  /** Waits until `n` emits have been made. */
  until(n: number): Promise<void>;
} {
  const emits: { batch: SourceBatch; settle: (error?: Error) => void }[] = [];
  let wake: (() => void) | undefined;
  const ctx: SourceContext = {
    name: "p",
    position: undefined,
    signal: new AbortController().signal,
    emit: (batch) =>
      new Promise((resolve, reject) => {
        emits.push({ batch, settle: (e) => e === undefined ? resolve() : reject(e) });
        wake?.();
      }),
  };
  let made = 0;
  const emit = ctx.emit;
  ctx.emit = (batch) => {
    made++;
    return emit(batch);
  };
  const until = async (n: number): Promise<void> => {
    while (made < n) await new Promise<void>((r) => (wake = r));
  };
  return { ctx, emits, until };
}

function ev(session: string, n: number): NewEvent {
  return {
    ts: 1,
    source: "p",
    source_pos: `${session}#${n}`,
    kind: "session",
    command: "SELECT",
    session_id: session,
  };
}

Deno.test("enforce: statements of every session waiting during an emit share the next one", async () => {
  const { ctx, emits, until } = handContext();
  const recorder = new GroupRecorder(ctx);
  const settled: string[] = [];
  const first = recorder.record([ev("a", 1)]).then(() => settled.push("a1"));
  await until(1);
  assertEquals(emits.length, 1);
  // Three sessions' statements arrive while the first emit is in flight.
  const waiting = [
    recorder.record([ev("b", 1)]).then(() => settled.push("b1")),
    recorder.record([ev("c", 1), ev("c", 2)]).then(() => settled.push("c")),
    recorder.record([ev("d", 1)]).then(() => settled.push("d1")),
  ];
  await new Promise((r) => setTimeout(r, 10));
  assertEquals(emits.length, 1, "nothing more is emitted while one emit is in flight");
  assertEquals(settled, [], "nothing is released before its emit is durable");
  emits[0]!.settle();
  await first;
  await until(2);
  assertEquals(emits.length, 2);
  assertEquals(
    emits[1]!.batch.events.map((e) => e.source_pos),
    ["b#1", "c#1", "c#2", "d#1"],
    "the waiting statements go together, in the order they came",
  );
  assertEquals(emits[1]!.batch.position, "d#1");
  assertEquals(settled, ["a1"]);
  emits[1]!.settle();
  await Promise.all(waiting);
  assertEquals(settled.sort(), ["a1", "b1", "c", "d1"]);
});

Deno.test("enforce: a refused emit rejects its callers only", async () => {
  const { ctx, emits, until } = handContext();
  const recorder = new GroupRecorder(ctx);
  const a = recorder.record([ev("a", 1)]);
  await until(1);
  const b = recorder.record([ev("b", 1)]);
  emits[0]!.settle(new Error("disk full"));
  let refused: unknown;
  await a.catch((e) => (refused = e));
  assert(refused instanceof Error && refused.message === "disk full", String(refused));
  await until(2);
  emits[1]!.settle();
  await b;
});

Deno.test("observe: the backlog stores what it took, in order, and drains on stop", async () => {
  const { ctx, emits } = handContext();
  const backlog = new BacklogRecorder(ctx, 100);
  for (let i = 1; i <= 5; i++) await backlog.record([ev("a", i)]);
  const draining = backlog.drain();
  for (let i = 0; i < 100 && emits.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  const stored: string[] = [];
  while (emits.length > 0) {
    const e = emits.shift()!;
    stored.push(...e.batch.events.map((x) => x.source_pos!));
    e.settle();
    await new Promise((r) => setTimeout(r, 30));
  }
  await draining;
  assertEquals(stored, ["a#1", "a#2", "a#3", "a#4", "a#5"]);
  assertEquals(backlog.lost, 0);
});
