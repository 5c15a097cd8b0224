/**
 * Durations as the config file writes them: integers with units, largest first — `500ms`,
 * `90s`, `15m`, `1h30m`, `30d`. Plain numbers are refused: "60" alone is ambiguous between
 * seconds and ms.
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
  // One or more parts, largest unit first: "90s", "1h30m".
  const parts = typeof text === "string" && /^(\d+(ms|s|m|h|d))+$/.test(text.trim())
    ? [...text.trim().matchAll(/(\d+)(ms|s|m|h|d)/g)]
    : null;
  const units = parts?.map((m) => UNITS[m[2]!]!) ?? [];
  if (parts === null || units.some((u, i) => i > 0 && u >= units[i - 1]!)) {
    throw new TypeError(
      `expected a duration such as "500ms", "90s", "15m", "1h" or "30d", got ${
        JSON.stringify(text)
      }`,
    );
  }
  const ms = parts.reduce((sum, m) => sum + Number(m[1]) * UNITS[m[2]!]!, 0);
  if (!Number.isSafeInteger(ms)) throw new TypeError(`duration ${text} is too long`);
  return ms;
}

/** A duration in the grammar above, largest unit first: 5400000 → "1h30m", 0 → "0ms". */
export function formatDuration(ms: number): string {
  let rest = ms;
  let out = "";
  for (const [unit, size] of Object.entries(UNITS).sort((a, b) => b[1] - a[1])) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out === "" ? "0ms" : out;
}
