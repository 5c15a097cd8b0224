/**
 * One run of the WAL source, from connecting to a clean stop: read the store's last durable
 * position, open the stream from there (or from the slot, if it is further), pump it into the
 * store, and close the connection whatever happens. A failure rejects with a
 * {@link SourceError} tagged connect, receive, decode or store; the supervisor restarts the
 * source, which then resumes from what the store holds — nothing acked was lost, nothing
 * stored is stored again.
 */

import { type SourceContext, SourceError } from "../../daemon/source.ts";
import { ChangeAssembler } from "./_changes.ts";
import { parseWalPosition, START_POSITION, type WalPosition } from "./_position.ts";
import type { WalSettings } from "./_source_config.ts";
import { StreamPump } from "./_source_pump.ts";
import { openUpstream, type Upstream } from "./_source_upstream.ts";

/** Runs the source until `ctx.signal` aborts (resolves) or it fails (rejects). */
export async function runWalSource(settings: WalSettings, ctx: SourceContext): Promise<void> {
  const resume = resumePosition(settings, ctx.position);
  if (ctx.signal.aborted) return;
  const upstream = await untilAborted(openUpstream(settings, resume.ack), ctx.signal);
  if (upstream === undefined) return;
  try {
    const assembler = new ChangeAssembler({
      source: ctx.name,
      db: upstream.db,
      resume: ctx.position,
    });
    const pump = new StreamPump(ctx, upstream.stream, assembler, {
      slot: settings.slot,
      server: upstream.server,
      batchMaxEvents: settings.batchMaxEvents,
      flushIntervalMs: settings.flushIntervalMs,
      durableLsn: resume.ack,
      drained: () => upstream.client.connection.reader.buffered === 0,
    });
    await pump.run();
  } finally {
    // Sends the last acked position and ends the stream; what was not acked comes again.
    await upstream.client.close();
  }
}

function resumePosition(settings: WalSettings, position: string | undefined): WalPosition {
  if (position === undefined) return { ...START_POSITION };
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
      opening.then((u) => u.client.close(), () => {}).catch(() => {});
    }
    return upstream;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
