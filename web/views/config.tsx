/**
 * The loaded configuration, read-only: whatever shape it has, rendered as nested lists. Values
 * that look secret (a key named like a password, a DSN's password) are masked: secrets belong
 * in files, but a DSN with a password in it should not end up on a screen.
 */

import type { JSX } from "hono/jsx/jsx-runtime";
import { Text } from "./text.tsx";

const SECRET_KEY = /pass(word)?|secret|credential|private/i;

/** A DSN with its password replaced by `***`. */
export function maskDsn(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]+):[^@/\s]*@/i, "$1:***@")
    .replace(/(\bpassword=)[^\s&]+/gi, "$1***");
}

/** One value of the configuration, recursively. */
export const ConfigValue = (
  { value, name, depth = 0 }: { value: unknown; name?: string; depth?: number },
): JSX.Element => {
  if (depth > 8) return <span class="muted">…</span>;
  if (name !== undefined && SECRET_KEY.test(name) && value !== null && value !== undefined) {
    return <span class="muted">(hidden)</span>;
  }
  if (Array.isArray(value)) {
    return (
      <ol>
        {value.map((v) => (
          <li>
            <ConfigValue value={v} depth={depth + 1} />
          </li>
        ))}
      </ol>
    );
  }
  if (value !== null && typeof value === "object") {
    return (
      <dl class="fields">
        {Object.entries(value as Record<string, unknown>).map(([k, v]) => (
          <>
            <dt>
              <Text value={k} />
            </dt>
            <dd>
              <ConfigValue value={v} name={k} depth={depth + 1} />
            </dd>
          </>
        ))}
      </dl>
    );
  }
  if (typeof value === "string") return <Text value={maskDsn(value)} />;
  return <span>{String(value)}</span>;
};
