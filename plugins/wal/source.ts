/**
 * One run of the WAL source, from connecting to a clean stop: read the store's last durable
 * position, connect, check for a gap (`gaps.ts`) and store its alarm before anything else,
 * open the stream from the store's position (or from the slot, if it is further), pump it into
 * the store while the watchdog writes heartbeats and watches for them and the audit
 * configuration is read back (`config_watch.ts`), and close everything
 * whatever happens. A failure rejects with a {@link SourceError} tagged connect, receive,
 * decode or store; the supervisor restarts the source, which then resumes from what the store
 * holds — nothing acked was lost, nothing stored is stored again.
 */

import { type SourceContext, SourceError } from "../../daemon/source.ts";
import { ChangeAssembler } from "./changes.ts";
import { advancedTo, findGap, gapEvent, positionAfterGap } from "./gaps.ts";
import {
  formatWalPosition,
  parseWalPosition,
  START_POSITION,
  type WalPosition,
} from "./position.ts";
import type { WalSettings } from "./source_config.ts";
import { StreamPump } from "./source_pump.ts";
import { connectUpstream, type Upstream } from "./source_upstream.ts";
import { Watchdog } from "./watchdog.ts";
import { ConfigWatch } from "./config_watch.ts";

/** Runs the source until `ctx.signal` aborts (resolves) or it fails (rejects). */
export async function runWalSource(settings: WalSettings, ctx: SourceContext): Promise<void> {
  const stored = storedPosition(settings, ctx.position);
  if (ctx.signal.aborted) return;
  const upstream = await untilAborted(connectUpstream(settings), ctx.signal);
  if (upstream === undefined) return;
  let watchdog: Watchdog | undefined;
  let configWatch: ConfigWatch | undefined;
  try {
    const origin = { source: ctx.name, db: upstream.db };
    const resume = await checkStart(settings, ctx, upstream, stored);
    if (ctx.signal.aborted) return;
    const stream = await upstream.start(resume.ack);
    ctx.gauge?.("connected", 1);
    let seen: (content: Uint8Array) => void = () => {};
    const assembler = new ChangeAssembler({
      ...origin,
      // The system id goes into every position from now on (see `position.ts`).
      resume: formatWalPosition(resume),
      storeHeartbeats: settings.storeHeartbeats,
      onHeartbeat: (content) => seen(content),
    });
    const pump = new StreamPump(ctx, stream, assembler, {
      slot: settings.slot,
      server: upstream.server,
      batchMaxEvents: settings.batchMaxEvents,
      flushIntervalMs: settings.flushIntervalMs,
      durableLsn: resume.ack,
      drained: () => upstream.client.connection.reader.buffered === 0,
    });
    if (settings.heartbeatIntervalMs > 0) {
      const dog = watchdog = new Watchdog({
        origin,
        slot: settings.slot,
        server: upstream.server,
        dsn: settings.dsn,
        intervalMs: settings.heartbeatIntervalMs,
        timeoutMs: settings.heartbeatTimeoutMs,
        triggerCheckEvery: settings.triggerCheckHeartbeats,
        raise: (events) => pump.inject(events),
        ...(ctx.gauge === undefined ? {} : { gauge: (n: string, v: number) => ctx.gauge!(n, v) }),
      });
      seen = (content) => dog.seen(content);
      dog.start();
    }
    // Without saved state a change made while the source was stopped could not be told from
    // none, so the read-back runs only where the pipeline keeps state (every store does).
    if (settings.configCheckIntervalMs > 0 && ctx.saveState !== undefined) {
      configWatch = new ConfigWatch({
        origin,
        server: upstream.server,
        dsn: settings.dsn,
        publication: settings.publication,
        intervalMs: settings.configCheckIntervalMs,
        ctx,
      });
      configWatch.start();
    }
    await pump.run();
  } finally {
    await configWatch?.stop();
    await watchdog?.stop();
    // Sends the last acked position and ends the stream; what was not acked comes again.
    await upstream.close();
  }
}

/**
 * Makes sure of the slot and returns where to resume. When the facts show a gap, its alarm is
 * stored first, together with the position the source goes on from, so the next start does not
 * raise it again.
 */
async function checkStart(
  settings: WalSettings,
  ctx: SourceContext,
  upstream: Upstream,
  stored: WalPosition | undefined,
): Promise<WalPosition> {
  const gap = findGap({
    slot: settings.slot,
    server: upstream.server,
    stored,
    systemId: upstream.systemId,
    walEnd: upstream.walEnd,
    found: upstream.found,
  });
  const slot = await upstream.ensureSlot(gap?.recreate ?? false);
  const confirmed = slot.confirmedFlushLsn ?? upstream.walEnd;
  if (gap === undefined || stored === undefined) {
    return advancedTo(stored ?? START_POSITION, confirmed, upstream.systemId);
  }
  const resume = positionAfterGap(stored, gap, confirmed, upstream.systemId);
  const origin = { source: ctx.name, db: upstream.db };
  const event = gapEvent(origin, gap, stored, resume, Date.now() * 1000);
  try {
    await ctx.emit({ events: [event], position: formatWalPosition(resume) });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new SourceError(
      "store",
      `Cannot store the WAL_GAP alarm of slot "${settings.slot}" on ${upstream.server}; ` +
        `nothing is collected until it is stored: ${why}`,
      { cause: error },
    );
  }
  return resume;
}

function storedPosition(
  settings: WalSettings,
  position: string | undefined,
): WalPosition | undefined {
  if (position === undefined) return undefined;
  try {
    return parseWalPosition(position);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new SourceError(
      "store",
      `Cannot resume WAL collection from slot "${settings.slot}": the store's position is ` +
        `unreadable: ${why}`,
      { cause: error },
    );
  }
}

/**
 * The upstream once open, or undefined when the signal aborts first — then the connection,
 * should it still open, is closed at once, so a stop does not wait out a connect timeout.
 */
async function untilAborted(opening: Promise<Upstream>, signal: AbortSignal): Promise<
  Upstream | undefined
> {
  const aborted = Promise.withResolvers<undefined>();
  const onAbort = (): void => aborted.resolve(undefined);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const upstream = await Promise.race([opening, aborted.promise]);
    if (upstream === undefined) {
      opening.then((u) => u.close(), () => {}).catch(() => {});
    }
    return upstream;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
