/**
 * Refused sign-ins reach the chain without write amplification: an address's first five in a
 * minute are events of their own (at most fifty for all addresses), the rest are counted and
 * written aggregated per address — early at 10, 100, … and in full when the minute is over —
 * so that every refused sign-in is still counted in the chain, but strangers cannot make one
 * event per attempt.
 */

import type { AuditEvent } from "../../daemon/event/model.ts";
import { SIGN_IN_POLICY } from "../../web/sign_in_trail.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { Client } from "./_client.ts";
import { uiEvents, withWorld } from "./_harness.ts";

async function failures(dir: string): Promise<AuditEvent[]> {
  return (await uiEvents(dir)).filter((e) => e.command === "LOGIN_FAILED");
}

/** Refused sign-ins the events account for: one each, or the count they carry. */
function counted(events: AuditEvent[]): number {
  return events.reduce((n, e) => n + (e.context?.aggregated ? Number(e.context.attempts) : 1), 0);
}

Deno.test("a burst of refused sign-ins from one address is counted, not written one by one", async () => {
  let now = Date.now();
  await withWorld({ now: () => now }, async (w) => {
    const c = new Client(w.app, "203.0.113.9");
    // Many names (no account locks first), then the address is locked and refused at once.
    for (let i = 0; i < 60; i++) {
      const res = await c.login(`stranger${i}`, "guess");
      assert(res.status === 401 || res.status === 429, `refused: ${res.status}`);
      await res.body?.cancel();
    }
    let events = await failures(w.dir);
    const single = events.filter((e) => e.context?.aggregated !== true);
    assertEquals(single.length, SIGN_IN_POLICY.perAddress);
    assertEquals(single.map((e) => e.object), [
      "stranger0",
      "stranger1",
      "stranger2",
      "stranger3",
      "stranger4",
    ]);
    // The burst is in the chain before the minute is over: at its tenth counted attempt.
    const early = events.filter((e) => e.context?.aggregated === true);
    assertEquals(early.length, 1);
    assertEquals(early[0]!.client_addr, "203.0.113.9");
    assertEquals([early[0]!.context?.attempts, early[0]!.context?.window_over], [10, false]);

    // Once the minute is over, the rest of its count is written.
    now += SIGN_IN_POLICY.windowMs + 1000;
    await (await c.login("stranger60", "guess")).body?.cancel();
    events = await failures(w.dir);
    const last = events.filter((e) => e.context?.aggregated === true).at(-1)!;
    assertEquals([last.context?.attempts, last.context?.window_over], [45, true]);
    assertEquals(last.context?.counted_in_window, 55);
    assert(Number(last.context?.locked) > 0, "refusals of a locked address are counted too");
    assertEquals((last.context?.names as string[]).length, SIGN_IN_POLICY.names);
    assertEquals(counted(events), 61, "every refused sign-in is counted in the chain");
    assertEquals(events.length, 5 + 1 + 1 + 1);
  });
});

Deno.test("refused sign-ins from many addresses: fifty events of their own, the rest aggregated", async () => {
  let now = Date.now();
  await withWorld({ now: () => now, throttle: { addrFailures: 1000 } }, async (w) => {
    const addresses = 80;
    for (let i = 0; i < addresses; i++) {
      const c = new Client(w.app, `198.51.100.${i}`);
      await (await c.login(`who${i}`, "guess")).body?.cancel();
    }
    now += SIGN_IN_POLICY.windowMs + 1000;
    await (await new Client(w.app, "192.0.2.99").login("late", "guess")).body?.cancel();
    const events = await failures(w.dir);
    const aggregated = events.filter((e) => e.context?.aggregated === true);
    // 50 single events; 30 counted: 20 addresses with their own event, 10 summed in one.
    assertEquals(events.length - aggregated.length, SIGN_IN_POLICY.perWindow + 1);
    assertEquals(aggregated.length, SIGN_IN_POLICY.ownAddresses + 1);
    const others = aggregated.find((e) => e.client_addr === undefined)!;
    assertEquals([others.context?.attempts, others.context?.addresses], [10, 10]);
    assertEquals(counted(events), addresses + 1);
  });
});
