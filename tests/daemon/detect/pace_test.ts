/**
 * The catch-up's pacing: every record reaches `take` once and in order, feeding stops when told,
 * and a timer set before a long feed fires before it ends (the HTTP server gets its turns).
 */

import { Pace } from "../../../daemon/detect/pace.ts";
import { assert, assertEquals } from "../../support/assert.ts";

const records = Array.from({ length: 1000 }, (_, i) => i);

Deno.test("pace: every record once, in order", async () => {
  const seen: number[] = [];
  const ok = await new Pace().feed(records, (s) => (seen.push(...s), true), () => true);
  assertEquals([ok, seen], [true, records]);
});

Deno.test("pace: stops when take or goOn says so", async () => {
  const seen: number[] = [];
  const ok = await new Pace().feed(
    records,
    (s) => (seen.push(...s), seen.length < 300),
    () => true,
  );
  assertEquals(ok, false);
  assert(seen.length >= 300 && seen.length < records.length, `${seen.length} taken`);
  assertEquals(await new Pace().feed([1], () => true, () => false), false);
});

Deno.test("pace: the event loop gets turns during a slow feed", async () => {
  let taken = 0;
  let takenWhenTimerFired = -1;
  setTimeout(() => (takenWhenTimerFired = taken), 0);
  const busy = (ms: number): void => {
    const end = performance.now() + ms;
    while (performance.now() < end) { /* a slice of detection work */ }
  };
  await new Pace().feed(records, (s) => {
    busy(15);
    taken += s.length;
    return true;
  }, () => true);
  assert(
    takenWhenTimerFired >= 0 && takenWhenTimerFired < records.length,
    `the timer fired after ${takenWhenTimerFired} of ${records.length}`,
  );
});
