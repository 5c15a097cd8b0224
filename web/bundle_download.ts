/**
 * Downloading an air-gapped bundle from the Management page: the period's signed events are
 * written by the same bundle writer as `vigil export` into a temp dir under the data dir (same
 * file system, and never on a tmpfs too small for it), then streamed to the browser as one ustar
 * file and the temp dir removed when the stream ends or the browser goes away. The download is
 * recorded (EXPORT, object `bundle`) and durable before any byte of it is sent; a download that
 * then fails is recorded again with its error, by the user captured before the answer. While
 * the bundle is written, the daemon's background readings of the log (detection catching up
 * after a restart) are held (`holdBackground`), so that the two do not hold memory at once.
 *
 * The staged copy is bounded: at most {@link MAX_DOWNLOADS} at a time (more are refused with
 * 503), and one whose reader takes nothing for the stall time (a minute by default) is cut off
 * and removed, so a stalled client cannot keep a full copy of the period on the disk. Temp dirs
 * a crash left behind are removed by the next download once a day old.
 */

import { formatRfc3339Micros } from "../daemon/event/time.ts";
import { writeBundle } from "../daemon/export/bundle.ts";
import { NothingToExportError } from "../daemon/export/plan.ts";
import { tarStream } from "../daemon/export/tar.ts";
import { log } from "../daemon/log.ts";
import { recordAs, uiActor } from "./audit_trail.ts";
import type { WebDeps } from "./deps.ts";
import type { WebContext } from "./env.ts";
import { parseTimeParam, SearchParamError } from "./search.ts";

/** Prefix of the temp dirs in the data dir; one left by a crash is safe to remove. */
export const DOWNLOAD_PREFIX = ".vigil-download-";

/** Bundles staged at once per store; one more is refused until one has finished. */
export const MAX_DOWNLOADS = 2;

/** How long a download may wait for its reader before it is cut off, by default. */
export const DOWNLOAD_STALL_MS = 60_000;

/** Downloads staged or streaming, per store. */
const active = new WeakMap<object, number>();

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

/**
 * `src`, cut off when its reader takes nothing for `stallMs`: the source is cancelled (which
 * removes the staged copy) and the reader's next read fails.
 */
function stallGuard(src: ReadableStream<Uint8Array>, stallMs: number): ReadableStream<Uint8Array> {
  const reader = src.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(ctrl): Promise<void> {
      clearTimeout(timer);
      const r = await reader.read();
      if (r.done) return ctrl.close();
      ctrl.enqueue(r.value);
      timer = setTimeout(() => {
        const why = new Error(`the browser read nothing for ${Math.round(stallMs / 1000)} s`);
        ctrl.error(why);
        reader.cancel(why).catch(() => {});
      }, stallMs);
    },
    cancel(reason): Promise<void> {
      clearTimeout(timer);
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
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
  // Read now: the stream's end is recorded when the request may be gone.
  const who = uiActor(c);
  const running = active.get(deps.store) ?? 0;
  if (running >= MAX_DOWNLOADS) {
    const why = `${running} bundle downloads are being prepared or sent; at most ` +
      `${MAX_DOWNLOADS} at a time`;
    await recordAs(deps, who, {
      command: "EXPORT",
      object: "bundle",
      context: period,
      error: `refused: ${why}`,
    });
    c.header("Retry-After", "60");
    return c.text(`Not now: ${why}. Try again when one has finished.`, 503);
  }
  // The slot is taken before anything is awaited, so two requests cannot both take the last.
  active.set(deps.store, running + 1);
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    active.set(deps.store, (active.get(deps.store) ?? 1) - 1);
  };
  let tmp: string | undefined;
  let summary;
  try {
    await recordAs(deps, who, { command: "EXPORT", object: "bundle", context: period });
    // The real clock, not the app's: it is compared with file times.
    await sweepStale(deps.store.dataDir, Date.now());
    tmp = await Deno.makeTempDir({ dir: deps.store.dataDir, prefix: DOWNLOAD_PREFIX });
    const writing = writeBundle(deps.store.dataDir, `${tmp}/bundle`, p);
    deps.holdBackground?.(writing, "a bundle download");
    summary = await writing;
  } catch (e) {
    release();
    if (tmp !== undefined) await Deno.remove(tmp, { recursive: true });
    if (!(e instanceof NothingToExportError)) throw e;
    return c.text(`Nothing to export: ${e.message}`, 404);
  }
  const staged = tmp;
  const name = `vigil-bundle-${compactTime(p.from)}-${compactTime(p.to)}`;
  const tar = tarStream(`${staged}/bundle`, {
    onClose: async (error) => {
      try {
        await Deno.remove(staged, { recursive: true });
      } finally {
        release();
      }
      if (error === undefined) return;
      // The browser went away, stalled, or a read failed: the trail says it did not finish.
      const why = error instanceof Error ? error.message : String(error);
      await recordAs(deps, who, {
        command: "EXPORT",
        object: "bundle",
        context: period,
        error: `the download did not finish: ${why}`,
      }).catch((e) =>
        log("error", "cannot record an unfinished bundle download", {
          user: who.name,
          error: e instanceof Error ? e.message : String(e),
        })
      );
    },
  });
  c.header("Content-Type", "application/x-tar");
  c.header("Content-Disposition", `attachment; filename="${name}.tar"`);
  c.header("Cache-Control", "no-store");
  c.header("X-Vigil-Bundle-Events", String(summary.events));
  return c.body(stallGuard(tar, deps.downloadStallMs ?? DOWNLOAD_STALL_MS));
}
