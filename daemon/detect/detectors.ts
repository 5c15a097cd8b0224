/**
 * The detectors a config runs: every rule and the models, less those it disables, in the fixed
 * order their drafts reach deduplication (rules first) — part of what makes a replay find the
 * same alerts.
 */

import type { DetectConfig } from "./config.ts";
import type { Detector } from "./detector.ts";
import { type GapCommands, gapCommands } from "./gap_commands.ts";
import { windowModels } from "./models.ts";
import {
  auditReduced,
  auditTampering,
  ddlByNonDdlRole,
  failedLoginBurst,
  newClientAddr,
  newObjectReads,
  privilegeEscalation,
} from "./rules_event.ts";
import { appSurge, sharedClientAddr } from "./rules_entity.ts";
import { bulkRead, offHours } from "./rules_window.ts";

/**
 * The detectors of a config, rules first: the order their drafts reach deduplication. `gaps` is
 * the list of gap commands (the core's and the source plugins', `gap_commands.ts`); without
 * it, the core's alone.
 */
export function detectorsFor(cfg: DetectConfig, gaps: GapCommands = gapCommands([])): Detector[] {
  const all = [
    auditTampering(gaps),
    auditReduced,
    privilegeEscalation,
    ddlByNonDdlRole,
    failedLoginBurst(),
    newClientAddr,
    newObjectReads,
    offHours,
    bulkRead,
    sharedClientAddr,
    appSurge,
    windowModels(),
  ];
  return all.filter((d) => !cfg.disabled.includes(d.name));
}
