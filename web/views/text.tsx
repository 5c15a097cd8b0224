/**
 * Database-originated text, shown as text. hono/jsx escapes markup; this component also makes
 * control characters and bidirectional overrides visible as `\uXXXX` badges, so that a
 * statement cannot reorder what the reader sees (Trojan Source) or hide characters. Line breaks
 * and tabs stay as they are: statements are read in a `pre-wrap` block.
 */

import type { JSX } from "hono/jsx/jsx-runtime";

const HIDDEN =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

/** Splits `s` into plain runs and single hidden characters. */
export function textParts(s: string): { text: string; hidden: boolean }[] {
  const out: { text: string; hidden: boolean }[] = [];
  let run = "";
  for (const ch of s) {
    if (HIDDEN.test(ch)) {
      if (run) out.push({ text: run, hidden: false });
      run = "";
      out.push({ text: ch, hidden: true });
    } else run += ch;
  }
  if (run) out.push({ text: run, hidden: false });
  return out;
}

/** `\uXXXX` for one character. */
export function escapeCode(ch: string): string {
  return `\\u${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
}

function part(p: { text: string; hidden: boolean }): JSX.Element | string {
  return p.hidden
    ? <span class="ctl" title="hidden or control character">{escapeCode(p.text)}</span>
    : p.text;
}

/** Renders a string with hidden characters as visible badges. */
export const Text = ({ value }: { value: string | undefined | null }): JSX.Element => {
  if (value === undefined || value === null) return <span class="none">—</span>;
  return <>{textParts(value).map(part)}</>;
};
