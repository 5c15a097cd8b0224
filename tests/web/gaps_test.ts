/**
 * The gaps of a period, as Management and the evidence pack show them: every gap, however many
 * other `system` events the period holds, and a list too long to hold says that it is cut.
 */

import type { NewEvent } from "../../daemon/event/model.ts";
import { gapEvents } from "../../web/compliance.ts";
import { GapsCut } from "../../web/views/management.tsx";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { Client } from "./_client.ts";
import { withWorld } from "./_harness.ts";

const T0 = 1_767_139_200_000_000; // 2025-12-31T00:00:00Z in µs, as the harness's events
const PERIOD = "from=2025-12-30T00:00:00Z&to=2026-01-02T00:00:00Z";

/** `n` system events that are no gap (a setting reloaded), after the harness's WAL_GAP. */
function noise(n: number): NewEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    ts: T0 + 124 * 60_000_000 + i * 1000,
    source: "billing-log",
    kind: "system" as const,
    command: "RELOAD",
    object: "log_min_duration_statement",
    context: { setting: "log_min_duration_statement", value: String(i), audit_reduced: false },
  }));
}

Deno.test("Management and the evidence pack list a gap however many other system events follow it", async () => {
  await withWorld({}, async (w) => {
    // More than a search page of system events, all newer than the gap, all in the period.
    await w.store.append({ source: "billing-log", events: noise(2500) });
    await w.feed.drain();
    const c = new Client(w.app);
    await c.login("auditor1");

    const page = (await c.page(`/management?${PERIOD}`)).html;
    assertMatch(page, /<table id="gaps">.*WAL_GAP.*slot was dropped/s);
    assert(!page.includes("No gaps reported"), "the gap is reported");
    assert(!page.includes('id="gaps-cut"'), "nothing is cut");

    const pack = await (await c.request(`/management/evidence.json?${PERIOD}`)).json();
    assertEquals(pack.gaps.map((g: { command: string }) => g.command), ["WAL_GAP"]);
    assertEquals(pack.gaps_total, 1);
    assertEquals(pack.alerts_cut, false);
  });
});

Deno.test("gapEvents() keeps the newest gaps up to its limit and counts them all; the pages say so", async () => {
  await withWorld({}, async (w) => {
    const more: NewEvent[] = [1, 2].map((i) => ({
      ts: T0 + 130 * 60_000_000 + i,
      source: "billing",
      kind: "system" as const,
      command: i === 1 ? "WAL_HEARTBEAT_MISSING" : "WAL_HEARTBEAT_RESTORED",
    }));
    await w.store.append({ source: "billing", events: [...noise(1200), ...more] });
    await w.feed.drain();
    const period = { from: T0 - 86_400_000_000, to: T0 + 2 * 86_400_000_000 };

    const all = await gapEvents(w.deps, period);
    assertEquals(all.total, 3);
    assertEquals(all.events.map((e) => e.command), [
      "WAL_HEARTBEAT_RESTORED",
      "WAL_HEARTBEAT_MISSING",
      "WAL_GAP",
    ]);
    const cut = await gapEvents(w.deps, period, w.store.size, { max: 2 });
    assertEquals([cut.total, cut.events.length], [3, 2]);
    assertEquals(cut.events[1]!.command, "WAL_HEARTBEAT_MISSING", "the newest are kept");

    const notice = String(GapsCut({ gaps: cut }));
    assertStringIncludes(notice, 'id="gaps-cut"');
    assertStringIncludes(notice, "3 gaps reported in this period; the newest");
    assertEquals(GapsCut({ gaps: all }), null);
  });
});
