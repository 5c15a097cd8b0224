/**
 * "Test connection" for a pgAudit source: the log files its `path` matches, whether this
 * process can read them, and whether the newest one's first record decodes in the configured
 * format (for `stderr`, with the configured `log_line_prefix`) — the mistakes that otherwise
 * show only as a source that never emits. It reads at most the first 64 KiB of one file, and
 * only what the source itself could: files its glob matches, never inside a Vigil data
 * directory (`fenceLogPaths`), so that "Test connection" cannot be pointed at the signing key
 * or the secrets the web UI keeps.
 */

import { createLogDecoder } from "./decoder.ts";
import { compileGlob, listGlob } from "./glob.ts";
import type { LogRecord } from "./record.ts";
import { fenceLogPaths, pgauditConfigFromTable } from "./source_config.ts";

/** What a probe found: whether the source can run, and one line per finding. */
export interface ProbeResult {
  ok: boolean;
  lines: string[];
}

const HEAD_BYTES = 64 * 1024;

/** Probes a `[[sources]]` table of `type = "pgaudit"`; never throws for what it finds. */
export async function probePgaudit(
  table: Readonly<Record<string, unknown>>,
): Promise<ProbeResult> {
  let settings;
  try {
    settings = pgauditConfigFromTable(table);
    fenceLogPaths(settings, typeof table.name === "string" ? `source "${table.name}"` : "source");
  } catch (error) {
    return { ok: false, lines: [`configuration: ${message(error)}`] };
  }
  const lines: string[] = [];
  let files: string[];
  try {
    files = await listGlob(compileGlob(settings.path));
  } catch (error) {
    return { ok: false, lines: [`cannot list ${settings.path}: ${message(error)}`] };
  }
  if (files.length === 0) {
    return { ok: false, lines: [`no file matches ${settings.path}`] };
  }
  lines.push(`${files.length} file(s) match ${settings.path}`);
  let ok = true;
  let newest: { path: string; mtime: number } | undefined;
  for (const path of files) {
    try {
      const f = await Deno.open(path, { read: true });
      const info = await f.stat();
      f.close();
      const mtime = info.mtime?.getTime() ?? 0;
      if (newest === undefined || mtime >= newest.mtime) newest = { path, mtime };
    } catch (error) {
      ok = false;
      lines.push(`cannot read ${path}: ${message(error)}`);
    }
  }
  if (newest === undefined) return { ok: false, lines };
  const first = await firstRecord(newest.path, settings);
  if (first === undefined) {
    lines.push(`newest file ${newest.path} is empty: nothing to check yet`);
  } else if (first.problem !== undefined) {
    ok = false;
    lines.push(
      `newest file ${newest.path}: its first line is not ${settings.format}: ${first.problem}`,
    );
  } else {
    lines.push(
      `newest file ${newest.path}: first line parses as ${settings.format}` +
        ` (${[first.time, first.severity].filter((v) => v !== undefined).join(", ")})`,
    );
  }
  return { ok, lines };
}

/** The first record of a file's head, or undefined for an empty file. */
async function firstRecord(
  path: string,
  settings: { format: "csvlog" | "jsonlog" | "stderr"; logLinePrefix: string | undefined },
): Promise<LogRecord | undefined> {
  const f = await Deno.open(path, { read: true });
  const buf = new Uint8Array(HEAD_BYTES);
  let n = 0;
  try {
    while (n < buf.length) {
      const got = await f.read(buf.subarray(n));
      if (got === null) break;
      n += got;
    }
  } finally {
    f.close();
  }
  if (n === 0) return undefined;
  const decoder = createLogDecoder({
    format: settings.format,
    file: path,
    startOffset: 0,
    startLine: 1,
    logLinePrefix: settings.logLinePrefix,
  });
  let first: LogRecord | undefined;
  const take = (r: LogRecord): void => {
    first ??= r;
  };
  decoder.push(buf.subarray(0, n), take);
  decoder.idle(take);
  decoder.end(take);
  return first;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
