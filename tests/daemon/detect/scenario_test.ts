import { generateScenario, SCENARIOS } from "../../support/scenario.ts";
import { assert, assertEquals, assertNotEquals } from "../../support/assert.ts";
import { evaluate, scenarioConfig } from "./_scenario_eval.ts";

const SEEDS = [7, 21];

for (const seed of SEEDS) {
  Deno.test(`DetectEngine finds every insider scenario with ≤ 2 false alerts a day (seed ${seed})`, () => {
    const s = generateScenario({ seed, days: 28 });
    const e = evaluate(s);
    const byRule: Record<string, number> = {};
    for (const a of e.falseAlerts) byRule[a.rule] = (byRule[a.rule] ?? 0) + 1;
    // The report the issue asks for: recall per scenario, false alerts per day.
    console.log(
      JSON.stringify({
        seed,
        events: s.events.length,
        days: s.days,
        recall: e.recall,
        alerts: e.alerts.length,
        false_alerts: e.falseAlerts.length,
        false_alerts_per_day: Math.round(e.falsePerDay * 100) / 100,
        false_by_rule: byRule,
      }),
    );
    for (const name of SCENARIOS) assertEquals(e.recall[name], 1, `recall of ${name}`);
    // The address and application windows name what no role's window shows on its own.
    for (
      const [rule, scenario] of [["app_surge", "new_app_flood"], [
        "shared_client_addr",
        "shared_client_addr",
      ]]
    ) {
      const hit = e.alerts.find((a) =>
        a.rule === rule && a.seqs.some((q) => s.labels.get(q)?.startsWith(`${scenario}#`))
      );
      assert(hit, `no ${rule} alert for ${scenario}`);
    }
    assert(e.falsePerDay <= 2, `${e.falsePerDay} false alerts per day`);
    // Every alert explains itself with numbers.
    for (const a of e.alerts) assert(/\d/.test(a.reason), `reason without numbers: ${a.reason}`);
  });
}

Deno.test("DetectEngine gives the same alerts however the records are split into batches", () => {
  const s = generateScenario({ seed: 7, days: 24 });
  const whole = evaluate(s, scenarioConfig(), s.events.length).alerts;
  const small = evaluate(s, scenarioConfig(), 37).alerts;
  const single = evaluate(s, scenarioConfig(), 1).alerts;
  assert(whole.length > 5, `only ${whole.length} alerts`);
  assertEquals(small, whole);
  assertEquals(single, whole);
});

Deno.test("the models are deterministic under a seed, and the seed matters", () => {
  const s = generateScenario({ seed: 21, days: 28 });
  const models = (seed: number, ifThreshold = 0.6) =>
    evaluate(s, { ...scenarioConfig(), seed, if_threshold: ifThreshold }).alerts
      .filter((a) => a.rule.startsWith("model:"));
  const a = models(1);
  assert(a.some((x) => x.rule === "model:isolation_forest"), "no isolation forest alert");
  assert(a.some((x) => x.rule === "model:dbscan"), "no DBSCAN alert");
  assertEquals(models(1), a);
  // Another seed grows other trees: isolation scores move (DBSCAN has no randomness).
  const other = models(2).filter((x) => x.rule === "model:isolation_forest");
  assertNotEquals(
    other.map((x) => x.score),
    a.filter((x) => x.rule === "model:isolation_forest").map((x) => x.score),
  );
});
