/**
 * JSON text to values without silent rounding. `JSON.parse` makes every number a double, so an
 * id or an amount past 2^53 — `12345678901234567890` in an application's context, a `numeric`
 * in a `jsonb` that `vigil.set_context()` wrote into the WAL — would be stored as another
 * number, `12345678901234567000`, and the chain would then vouch for a value nobody sent.
 *
 * `parseJsonExact` promises that every number in the result is, as a decimal, the number the
 * text held: one whose double would print as another decimal value (more than 15 significant
 * digits that a double cannot hold, an exponent past the double's range) is kept as the string
 * of its digits, exactly as written. Every other number stays a number, so ordinary input
 * decodes as `JSON.parse` decodes it, and at its speed: only text that holds a run of 16
 * digits or an exponent takes the slower path that looks at each number's source text.
 *
 * @example
 * parseJsonExact('{"id": 12345678901234567890, "n": 1.5}'); // { id: "12345678901234567890", n: 1.5 }
 */

/** Text that may hold a number a double cannot keep: 16 digits (a dot between) or an exponent. */
const MAYBE_INEXACT = /\d[\d.]{15}|\d[eE]/;

/** The third argument V8 passes a reviver (JSON.parse source text access). */
interface ReviverContext {
  source?: string;
}

/** Parses JSON like `JSON.parse`, keeping numbers a double would change as strings. */
export function parseJsonExact(text: string): unknown {
  if (!MAYBE_INEXACT.test(text)) return JSON.parse(text);
  return JSON.parse(text, exactNumbers as (key: string, value: unknown) => unknown);
}

function exactNumbers(_key: string, value: unknown, context?: ReviverContext): unknown {
  if (typeof value !== "number") return value;
  const source = context?.source;
  // Without the source text (an engine without source access) nothing better can be done.
  if (source === undefined || sameDecimal(source, value)) return value;
  return source;
}

/** True when the double `d` prints as the same decimal value as the JSON number `literal`. */
export function sameDecimal(literal: string, d: number): boolean {
  if (!Number.isFinite(d)) return false;
  const a = decimal(literal);
  return a !== null && a === decimal(String(d));
}

/** A decimal's value as `sign digits e exponent`, digits without leading or trailing zeros. */
function decimal(text: string): string | null {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (m === null) return null;
  const frac = m[3] ?? "";
  let digits = (m[2]! + frac).replace(/^0+/, "");
  if (digits === "") return "0"; // -0 and 0 are the same value
  let exponent = Number(m[4] ?? "0") - frac.length;
  const trimmed = digits.replace(/0+$/, "");
  exponent += digits.length - trimmed.length;
  digits = trimmed;
  return `${m[1]}${digits}e${exponent}`;
}
