/**
 * The terminal table of `vigil query --format table`. Every value is shown as text with control
 * characters made visible, so that a statement carrying terminal escape sequences cannot move
 * the cursor, recolour or rewrite what the operator sees.
 */

import type { AuditEvent } from "../event/model.ts";

const WIDTH = { statement: 80, object: 30 };

/** Replaces control and bidi-override characters with visible escapes. */
export function escapeForTerminal(s: string): string {
  return s.replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => {
      if (c === "\n") return "\\n";
      if (c === "\t") return "\\t";
      if (c === "\r") return "\\r";
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
    },
  );
}

function cut(s: string, n: number): string {
  const chars = [...s];
  return chars.length > n ? chars.slice(0, n - 1).join("") + "…" : s;
}

/** Renders events as an aligned text table. */
export function renderTable(events: AuditEvent[], fmtTime: (us: number) => string): string {
  const head = ["seq", "ts", "source", "kind", "role", "db", "command", "object", "statement"];
  const rows = events.map((e) =>
    [
      String(e.seq),
      fmtTime(e.ts),
      e.source,
      e.kind,
      e.role ?? "",
      e.db ?? "",
      e.command ?? "",
      cut(e.object ?? "", WIDTH.object),
      cut(e.statement ?? e.error ?? e.raw ?? "", WIDTH.statement),
    ].map(escapeForTerminal)
  );
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]!].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => c + " ".repeat(widths[i]! - [...c].length)).join("  ").trimEnd();
  return [line(head), ...rows.map(line), `(${events.length} events)`].join("\n");
}
