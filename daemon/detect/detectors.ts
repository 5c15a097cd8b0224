/**
 * The detectors a config runs: every rule and the models, less those it disables, in the fixed
 * order their drafts reach deduplication (rules first) — part of what makes a replay find the
 * same alerts.
 */

import type { DetectConfig } from "./config.ts";
import type { Detector } from "./detector.ts";
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
import { coverageDetector } from "./rules_coverage.ts";
import { bulkRead, offHours } from "./rules_window.ts";

/** The detectors of a config, rules first: the order their drafts reach deduplication. */
export function detectorsFor(cfg: DetectConfig): Detector[] {
  const all = [
    auditTampering,
    auditReduced,
    privilegeEscalation,
    ddlByNonDdlRole,
    failedLoginBurst(),
    newClientAddr,
    newObjectReads,
    coverageDetector(cfg),
    offHours,
    bulkRead,
    sharedClientAddr,
    appSurge,
    windowModels(),
  ];
  return all.filter((d) => !cfg.disabled.includes(d.name));
}
