/**
 * Downloading an air-gapped bundle from the Management page: the period's signed events are
 * written by the same bundle writer as `vigil export` into a temp dir under the data dir (same
 * file system, and never on a tmpfs too small for it), then streamed to the browser as one ustar
 * file and the temp dir removed when the stream ends or the browser goes away. The download is
 * recorded (EXPORT, object `bundle`) and durable before any byte of it is sent; a download that
 * then fails is recorded again with its error. Temp dirs a crash left behind are removed by the
 * next download once a day old.
 */

import { formatRfc3339Micros } from "../daemon/event/time.ts";
import { writeBundle } from "../daemon/export/bundle.ts";
import { NothingToExportError } from "../daemon/export/plan.ts";
import { tarStream } from "../daemon/export/tar.ts";
import { log } from "../daemon/log.ts";
import { recordUiAction } from "./audit_trail.ts";
import type { WebDeps } from "./deps.ts";
import type { WebContext } from "./env.ts";
import { parseTimeParam, SearchParamError } from "./search.ts";

/** Prefix of the temp dirs in the data dir; one left by a crash is safe to remove. */
export const DOWNLOAD_PREFIX = ".vigil-download-";

/** A download temp dir this old was left by a crash: no download takes a day. */
const STALE_MS = 24 * 3600_000;

/** Removes download temp dirs that a crash left in the data dir. */
async function sweepStale(dataDir: string, nowMs: number): Promise<void> {
  for await (const d of Deno.readDir(dataDir)) {
    if (!d.isDirectory || !d.name.startsWith(DOWNLOAD_PREFIX)) continue;
    const path = `${dataDir}/${d.name}`;
    const mtime = (await Deno.stat(path)).mtime?.getTime() ?? nowMs;
    if (nowMs - mtime > STALE_MS) await Deno.remove(path, { recursive: true });
  }
}

/** `2025-12-31T00:00:00.000000Z` → `20251231T000000Z`: a file name without colons. */
function compactTime(us: number): string {
  return formatRfc3339Micros(us).replace(/\.\d+Z$/, "Z").replace(/[-:]/g, "");
}

/** The form's period, µs: both bounds required, `from` before `to`. */
function formPeriod(body: Record<string, unknown>): { from: number; to: number } {
  const text = (k: string): string => {
    const v = body[k];
    if (typeof v !== "string" || v.trim() === "") throw new SearchParamError(`${k}: required`);
    return v.trim();
  };
  const from = parseTimeParam("from", text("from"));
  const to = parseTimeParam("to", text("to"));
  if (from >= to) throw new SearchParamError("from: must be before to");
  return { from, to };
}

/** Handles `POST /management/bundle` (CSRF and role checked before). */
export async function downloadBundle(deps: WebDeps, c: WebContext): Promise<Response> {
  let p: { from: number; to: number };
  try {
    p = formPeriod(await c.req.parseBody());
  } catch (e) {
    if (!(e instanceof SearchParamError)) throw e;
    return c.text(`Bad period: ${e.message}`, 400);
  }
  const period = { from: formatRfc3339Micros(p.from), to: formatRfc3339Micros(p.to) };
  await recordUiAction(deps, c, { command: "EXPORT", object: "bundle", context: period });
  // The real clock, not the app's: it is compared with file times.
  await sweepStale(deps.store.dataDir, Date.now());
  const tmp = await Deno.makeTempDir({ dir: deps.store.dataDir, prefix: DOWNLOAD_PREFIX });
  const remove = (): Promise<void> => Deno.remove(tmp, { recursive: true });
  const bundle = `${tmp}/bundle`;
  let summary;
  try {
    summary = await writeBundle(deps.store.dataDir, bundle, p);
  } catch (e) {
    await remove();
    if (!(e instanceof NothingToExportError)) throw e;
    return c.text(`Nothing to export: ${e.message}`, 404);
  }
  const name = `vigil-bundle-${compactTime(p.from)}-${compactTime(p.to)}`;
  const by = c.get("user")!.name;
  const body = tarStream(bundle, {
    onClose: async (error) => {
      await remove();
      if (error === undefined) return;
      // The browser went away or a read failed: the trail says the download did not finish.
      const why = error instanceof Error ? error.message : String(error);
      await recordUiAction(deps, c, {
        command: "EXPORT",
        actor: by,
        object: "bundle",
        context: period,
        error: `the download did not finish: ${why}`,
      }).catch((e) =>
        log("error", "cannot record an unfinished bundle download", {
          user: by,
          error: e instanceof Error ? e.message : String(e),
        })
      );
    },
  });
  c.header("Content-Type", "application/x-tar");
  c.header("Content-Disposition", `attachment; filename="${name}.tar"`);
  c.header("Cache-Control", "no-store");
  c.header("X-Vigil-Bundle-Events", String(summary.events));
  return c.body(body);
}
