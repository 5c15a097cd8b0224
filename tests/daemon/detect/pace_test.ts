/**
 * The catch-up's pacing: every record reaches `take` once and in order, feeding stops when told,
 * and a timer set before a long feed fires before it ends (the HTTP server gets its turns, a few ms
 * of feeding apart); its garbage is collected as memory grows, the whole heap over the budget (not
 * more often than every few seconds), and a chunk over the budget leaves the event loop a pause.
 */

import { Pace, PACE_BUDGET } from "../../../daemon/detect/pace.ts";
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

Deno.test("pace: no more than a few ms of feeding between two turns", async () => {
  // A clock of its own: each slice of detection takes 3 ms of it.
  let clock = 0;
  const pace = new Pace({ rss: () => 0, collect: () => {}, now: () => clock });
  const turnsAt: number[] = [];
  let feeding = true;
  const tick = (): void => {
    turnsAt.push(clock);
    if (feeding) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  await pace.feed(Array.from({ length: 256 * 40 }, (_, i) => i), () => {
    clock += 3;
    return true;
  }, () => true);
  feeding = false;
  await new Promise((r) => setTimeout(r, 0));
  const gaps = turnsAt.slice(1).map((t, i) => t - turnsAt[i]!);
  assert(turnsAt.length > 10, `${turnsAt.length} turns over 120 ms of feeding`);
  assert(Math.max(...gaps) <= 9, `gaps between turns: ${gaps.join(", ")} ms`);
});

Deno.test("pace: young collections as memory grows, the whole heap over the budget at most every few seconds", async () => {
  const MiB = 1024 * 1024;
  let rss = 100 * MiB;
  let clock = 0;
  const made: string[] = [];
  const pace = new Pace({
    rss: () => rss,
    collect: (o) => void made.push(o.young ? "young" : "full"),
    now: () => clock,
  });
  const chunk = (): Promise<boolean> => pace.feed(records, () => true, () => true);
  await chunk(); // the first: from nothing, grown past the headroom
  assertEquals(made, ["young"]);
  await chunk(); // no growth since
  assertEquals(made, ["young"]);
  rss = PACE_BUDGET + MiB;
  await chunk();
  assertEquals(made, ["young", "full"]);
  clock += 1000;
  await chunk(); // still over, but one was made a second ago
  assertEquals(made, ["young", "full"]);
  clock += 10_000;
  await chunk();
  assertEquals(made, ["young", "full", "full"]);
});

Deno.test("pace: a chunk over the budget gives live work the event loop before the next", async () => {
  const MiB = 1024 * 1024;
  const over = new Pace({ rss: () => PACE_BUDGET + MiB, collect: () => {}, now: () => 0 });
  const under = new Pace({ rss: () => 50 * MiB, collect: () => {}, now: () => 0 });
  // Timers of live work set as each chunk ends: how many fired before the chunk's feed returned.
  const firedDuring = async (pace: Pace): Promise<number> => {
    let fired = 0;
    let done = false;
    const p = pace.feed([1], () => true, () => true).then(() => (done = true));
    for (let k = 0; k < 5; k++) setTimeout(() => !done && fired++, 5 + k);
    await p;
    return fired;
  };
  assertEquals(await firedDuring(under), 0);
  assertEquals(await firedDuring(over), 5);
});
