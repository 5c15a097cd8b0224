/**
 * Where a key sits in a TOML file, for error messages. The TOML parser returns values without
 * positions, so this scans the text for table headers (`[web]`, `[[sources]]`) and the key
 * lines under them — enough for the flat tables a Vigil config uses. A key it cannot place is
 * reported at its table's header, or at line 1.
 */

/** A table path as the config checks name it: `["web"]`, `["sources", 2]`, `[]` for the root. */
export type TablePath = readonly (string | number)[];

interface Header {
  line: number;
  name: string;
  array: boolean;
}

const HEADER = /^\s*(\[\[?)\s*([A-Za-z0-9_.\-" ]+?)\s*\]\]?\s*(#.*)?$/;
const KEY = /^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_\-]+)\s*=/;

function headers(lines: readonly string[]): Header[] {
  const out: Header[] = [];
  lines.forEach((text, i) => {
    const m = HEADER.exec(text);
    if (m) out.push({ line: i + 1, name: m[2]!.replaceAll('"', ""), array: m[1] === "[[" });
  });
  return out;
}

/** The 1-based line range [first, last] of a table's body; the header line is `first - 1`. */
function tableRange(lines: readonly string[], path: TablePath): [number, number] | null {
  const hs = headers(lines);
  if (path.length === 0) return [1, (hs[0]?.line ?? lines.length + 1) - 1];
  const [name, index] = path;
  let seen = -1;
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i]!;
    if (h.name !== name) continue;
    seen++;
    if (typeof index === "number" ? seen !== index : h.array) continue;
    const end = (hs[i + 1]?.line ?? lines.length + 1) - 1;
    return [h.line + 1, end];
  }
  return null;
}

/** The line of `key` in the table at `path`, else of the table's header, else 1. */
export function keyLine(text: string, path: TablePath, key?: string): number {
  const lines = text.split("\n");
  const range = tableRange(lines, path);
  if (range === null) return 1;
  if (key !== undefined) {
    for (let n = range[0]; n <= range[1]; n++) {
      const m = KEY.exec(lines[n - 1]!);
      if (m && m[1]!.replace(/^["']|["']$/g, "") === key) return n;
    }
  }
  return path.length === 0 ? 1 : range[0] - 1;
}
