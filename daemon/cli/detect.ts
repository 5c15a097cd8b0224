/**
 * `vigil detect --data DIR [--from T] [--to T] [--config FILE]`: runs the detectors over the
 * stored log on event time and rebuilds the alert store (`alerts.db`) with the alerts that meet
 * [from, to). History before `from` is learned, not reported. Acknowledgements in the chain are
 * re-applied. Prints one JSON line: events read, alerts found, alerts per rule, and the
 * detectors that threw (and were taken out: exit 1, as the alerts may be incomplete).
 */

import { parse as parseToml } from "smol-toml";
import { alertsPath, AlertStore } from "../detect/alert_store.ts";
import { detectRange } from "../detect/batch.ts";
import { GAP_COMMANDS } from "../../plugins/mod.ts";
import { defaultDetectConfig, type DetectConfig, detectConfigFromTable } from "../detect/config.ts";
import { parseRfc3339Micros } from "../event/time.ts";
import { print } from "../log.ts";
import { noRest, parseFlags, required, UsageError } from "./args.ts";

/** An RFC 3339 flag as µs, or a UsageError naming it. */
export function timeFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseRfc3339Micros(v);
  } catch (e) {
    throw new UsageError(`--${flag}: ${(e as Error).message}`);
  }
}

/** The `[detect]` table of a config file, as a DetectConfig; defaults without a file. */
export async function detectConfigFile(path: string | undefined): Promise<DetectConfig> {
  if (path === undefined) return defaultDetectConfig();
  const text = await Deno.readTextFile(path);
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`${path}: ${(e as Error).message.split("\n")[0]}`);
  }
  const table = doc.detect ?? {};
  try {
    if (typeof table !== "object" || table === null || Array.isArray(table)) {
      throw new TypeError("Cannot read [detect]: not a table");
    }
    return detectConfigFromTable(table as Record<string, unknown>);
  } catch (e) {
    throw new UsageError(`${path}: ${(e as Error).message}`);
  }
}

/** Checks that `dir` holds a store. */
export async function requireDataDir(dir: string): Promise<void> {
  try {
    await Deno.stat(`${dir}/segments`);
  } catch {
    throw new UsageError(`${dir} is not a Vigil data directory (no segments/)`);
  }
}

/** Runs `vigil detect`; returns the exit code. */
export async function detectCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    data: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    config: { type: "string" },
  });
  noRest(rest);
  const data = required(values.data, "data");
  const from = timeFlag(values.from, "from");
  const to = timeFlag(values.to, "to");
  if (from !== undefined && to !== undefined && from >= to) {
    throw new UsageError("--from must be before --to");
  }
  const cfg = await detectConfigFile(values.config);
  await requireDataDir(data);
  const alerts = AlertStore.open(alertsPath(data));
  try {
    const r = await detectRange(data, cfg, {
      alerts,
      gapCommands: GAP_COMMANDS,
      ...(from === undefined ? {} : { from }),
      ...(to === undefined ? {} : { to }),
    });
    const byRule: Record<string, number> = {};
    for (const a of r.alerts) byRule[a.rule] = (byRule[a.rule] ?? 0) + 1;
    const failed = r.failures.map((f) => ({ detector: f.detector, seq: f.seq, error: f.error }));
    print(JSON.stringify({
      events: r.events,
      alerts: r.alerts.length,
      by_rule: byRule,
      ...(failed.length === 0 ? {} : { failed_detectors: failed }),
    }));
    return failed.length === 0 ? 0 : 1;
  } finally {
    alerts.close();
  }
}
