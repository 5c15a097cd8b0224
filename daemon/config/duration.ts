/**
 * Durations as the config file writes them: an integer and a unit, `500ms`, `90s`, `15m`, `1h`,
 * `30d`. Plain numbers are refused, because "60" alone is ambiguous between seconds and ms.
 */

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Milliseconds of a duration string; throws `TypeError` saying what is accepted. */
export function parseDuration(text: unknown): number {
  const m = typeof text === "string" ? /^(\d+)(ms|s|m|h|d)$/.exec(text.trim()) : null;
  if (m === null) {
    throw new TypeError(
      `expected a duration such as "500ms", "90s", "15m", "1h" or "30d", got ${
        JSON.stringify(text)
      }`,
    );
  }
  const ms = Number(m[1]) * UNITS[m[2]!]!;
  if (!Number.isSafeInteger(ms)) throw new TypeError(`duration ${text} is too long`);
  return ms;
}
