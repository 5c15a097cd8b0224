/** Runs the detection engine over a generated scenario and scores it: shared by the tests. */

import type { Alert } from "../../../daemon/detect/alert.ts";
import { defaultDetectConfig, type DetectConfig } from "../../../daemon/detect/config.ts";
import { DetectEngine } from "../../../daemon/detect/engine.ts";
import {
  generateScenario,
  type Scenario,
  SCENARIOS,
  SENSITIVE,
  withSeqs,
} from "../../support/scenario.ts";

/** Recall per scenario and false alerts per day of one run. */
export interface Evaluation {
  recall: Record<string, number>;
  falseAlerts: Alert[];
  falsePerDay: number;
  alerts: Alert[];
}

/** The detection config the scenario tests use: defaults plus the sensitive objects. */
export function scenarioConfig(): DetectConfig {
  return { ...defaultDetectConfig(), sensitive_objects: SENSITIVE };
}

/** Feeds the scenario in batches of `chunk` and scores the alerts. */
export function evaluate(s: Scenario, cfg = scenarioConfig(), chunk = 1000): Evaluation {
  const engine = new DetectEngine(cfg);
  const events = withSeqs(s.events);
  for (let i = 0; i < events.length; i += chunk) {
    engine.feed(events.slice(i, i + chunk).map((event) => ({ seq: event.seq, event })));
  }
  engine.flush();
  const alerts = engine.list();
  engine.alerts.close();
  const found = new Set<string>();
  const falseAlerts: Alert[] = [];
  for (const a of alerts) {
    const hits = a.seqs.map((q) => s.labels.get(q)).filter((x): x is string => x !== undefined);
    if (hits.length === 0) falseAlerts.push(a);
    for (const h of hits) found.add(h);
  }
  const recall: Record<string, number> = {};
  for (const name of SCENARIOS) {
    const eps = s.episodes.filter((e) => e.startsWith(`${name}#`));
    recall[name] = eps.filter((e) => found.has(e)).length / eps.length;
  }
  return { recall, falseAlerts, falsePerDay: falseAlerts.length / s.days, alerts };
}

// `deno run -A tests/daemon/detect/_scenario_eval.ts [SEED]` prints the evaluation, for tuning.
if (import.meta.main) {
  const s = generateScenario({ seed: Number(Deno.args[0] ?? 7) });
  const e = evaluate(s);
  console.log(e.recall, "false/day", e.falsePerDay.toFixed(2), "alerts", e.alerts.length);
  for (const a of e.alerts) {
    const hit = a.seqs.map((q) => s.labels.get(q)).find((x) => x !== undefined) ?? "FALSE";
    const when = new Date(a.ts_from / 1000).toISOString();
    console.log(when, hit, a.rule, a.role, a.score, a.reason);
  }
}
