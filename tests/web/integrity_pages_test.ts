/**
 * The daemon's own checks of the store on the Operator and Management pages: a damaged store
 * is an alarm on both, with the problem as text; an intact one says when it was verified.
 */

import type {
  IntegrityStatus,
  ServeStatus,
  StatusProvider,
  StatusSample,
} from "../../daemon/serve/status.ts";
import { createWebApp } from "../../web/app.ts";
import { assert, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { Client } from "./_client.ts";
import { withWorld } from "./_harness.ts";
import { STATUS_NOW } from "./_status.ts";

const VERIFIED: IntegrityStatus = {
  state: "intact",
  healthy: true,
  problem: null,
  startCheck: { ok: true, at: STATUS_NOW - 60_000, seconds: 0.02, segments: 12, problem: null },
  lastVerification: {
    ok: true,
    trigger: "start",
    startedAt: STATUS_NOW - 50_000,
    finishedAt: STATUS_NOW - 20_000,
    events: 48_211,
    checkpoints: 61,
    problem: null,
  },
  verifying: null,
  nextAt: STATUS_NOW + 86_400_000,
  runs: { intact: 1, damaged: 0 },
};

/** A problem as the daemon words it, with markup in it to show it stays text. */
const PROBLEM =
  "seg-00000000000000002600.vsegz offset 0: compressed segment block 0: <b>corrupt</b>";

const DAMAGED: IntegrityStatus = {
  ...VERIFIED,
  state: "damaged",
  healthy: false,
  problem: `${PROBLEM} (found by the daily verification)`,
  lastVerification: { ...VERIFIED.lastVerification!, ok: false, problem: PROBLEM },
  runs: { intact: 0, damaged: 1 },
};

/** The world's status with the store's checks added. */
class WithIntegrity implements StatusProvider {
  constructor(readonly base: StatusProvider, readonly integrity: IntegrityStatus) {}

  current(): ServeStatus {
    const s = this.base.current();
    return { ...s, store: { ...s.store, integrity: this.integrity } };
  }

  series(source: string, window: "hour" | "day"): readonly StatusSample[] {
    return this.base.series(source, window);
  }
}

Deno.test("a damaged store is an alarm on the Operator and Management pages", async () => {
  await withWorld({}, async (w) => {
    const app = createWebApp({ ...w.deps, status: new WithIntegrity(w.deps.status, DAMAGED) });
    const op = new Client(app);
    await op.login("operator1");
    const html = (await op.page("/operator")).html;
    assertMatch(html, /id="store-integrity">damaged</);
    assertMatch(html, /<p class="notice bad" role="alert" id="store-damaged">The store is damaged/);
    assertStringIncludes(html, "compressed segment block 0: &lt;b&gt;corrupt&lt;/b&gt;");
    assert(!html.includes("<b>corrupt</b>"), "the problem is text");

    const auditor = new Client(app);
    await auditor.login("auditor1");
    const mgmt = (await auditor.page("/management")).html;
    assertMatch(mgmt, /<div id="background-verification"><p class="notice bad"/);
    assertMatch(mgmt, /<span class="bad">Problem found<\/span>, 48,211 events/);
    assertStringIncludes(mgmt, "seg-00000000000000002600.vsegz offset 0");
  });
});

Deno.test("an intact store shows when it was verified and when it is next", async () => {
  await withWorld({}, async (w) => {
    const app = createWebApp({ ...w.deps, status: new WithIntegrity(w.deps.status, VERIFIED) });
    const op = new Client(app);
    await op.login("operator1");
    const html = (await op.page("/operator")).html;
    assertMatch(html, /class="big ok" id="store-integrity">intact</);
    assertStringIncludes(html, "last verified 2025-12-31T23:59:40Z (48,211 events)");
    assert(!html.includes("store-damaged"));

    const auditor = new Client(app);
    await auditor.login("auditor1");
    const mgmt = (await auditor.page("/management")).html;
    assertMatch(mgmt, /start \(passed, 12\s+segment files\)/);
    assertMatch(mgmt, /<span class="ok">Intact<\/span>, 48,211 events and 61 signed checkpoints/);
    assertStringIncludes(mgmt, "Next 2026-01-02T00:00:00Z.");
  });
});
