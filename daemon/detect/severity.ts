/** Severity comparisons, shared by the channels, the store filter and the CLI. */

import { SEVERITIES, type Severity } from "./config.ts";

export type { Severity } from "./config.ts";

/** True when `s` is at least as urgent as `min`. */
export function severityAtLeast(s: Severity, min: Severity): boolean {
  return SEVERITIES.indexOf(s) >= SEVERITIES.indexOf(min);
}

/** The severity named `text`, or a TypeError listing the valid ones. */
export function parseSeverity(text: string): Severity {
  if (!(SEVERITIES as readonly string[]).includes(text)) {
    throw new TypeError(
      `unknown severity ${JSON.stringify(text)}: one of ${SEVERITIES.join(", ")}`,
    );
  }
  return text as Severity;
}
