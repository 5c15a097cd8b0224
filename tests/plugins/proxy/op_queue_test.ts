/**
 * The queue of a session's unanswered requests: the ReadyForQuery messages it owes, the skip to
 * the next Sync after an extended-protocol error, and what a ReadyForQuery answers.
 */

import { micros } from "../../../plugins/proxy/events.ts";
import { OpQueue } from "../../../plugins/proxy/op_queue.ts";
import { assert, assertEquals } from "../../support/assert.ts";

function queue(...kinds: Parameters<OpQueue["push"]>[0][]): OpQueue {
  const q = new OpQueue();
  for (const k of kinds) q.push(k, {}, 1000);
  return q;
}

Deno.test("OpQueue owes a ReadyForQuery only while a Sync, Query or FunctionCall is queued", () => {
  const q = queue("parse", "bind", "execute");
  assert(!q.owesReady);
  q.push("sync", {}, 2000);
  assert(q.owesReady);
  assertEquals([q.head?.t0, q.head?.ts], [1000, micros(1000)]);
  q.skipToSync();
  assertEquals([q.length, q.head?.kind], [1, "sync"]);
  q.answerReady();
  assertEquals(q.length, 0);
  assert(!q.owesReady);
});

Deno.test("OpQueue: a ReadyForQuery answers up to its own request, pipelined ones stay", () => {
  const q = queue("query", "parse", "bind", "execute", "sync", "function");
  q.answerReady();
  assertEquals([q.length, q.head?.kind, q.owesReady], [5, "parse", true]);
  q.answerReady();
  assertEquals([q.length, q.head?.kind, q.owesReady], [1, "function", true]);
  q.shift();
  assertEquals([q.length, q.owesReady], [0, false]);
});
