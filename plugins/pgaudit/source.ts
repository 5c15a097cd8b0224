/**
 * The running pgAudit source: tails the log files (`tailer.ts`), turns each record into its
 * event (`events.ts`), and stores the events in batches, each with the position after its last
 * record (`tail_position.ts`); the pipeline removes their secrets before the store sees them
 * (`daemon/event/redact.ts`, with this source's `redact` rules). The position is taken from the
 * store at start, so a restart — after a crash at any moment — reads on from the end of the
 * last record whose batch was durable: nothing lost, nothing stored twice.
 */

import type { NewEvent } from "../../daemon/event/model.ts";
import { log } from "../../daemon/log.ts";
import { type SourceContext, SourceError } from "../../daemon/source.ts";
import { Batcher } from "./batcher.ts";
import { defaultCurrentLogfiles } from "./current_logfiles.ts";
import { lineAfter } from "./decoder.ts";
import { logEvent } from "./events.ts";
import { compileGlob } from "./glob.ts";
import type { LogRecord } from "./record.ts";
import { fenceLogPaths, type PgauditSettings } from "./source_config.ts";
import type { RecordSink, TailFile } from "./tail_file.ts";
import { Tailer } from "./tailer.ts";
import { decodePosition, encodePosition, type FileEntry, type TailState } from "./tail_position.ts";

/** Characters of text fields past which an event's encoded size is checked. */
const CHECK_CHARS = 4 * 1024 * 1024;
/** Largest event JSON stored; the store refuses frames over 64 MiB. */
const MAX_EVENT_BYTES = 32 * 1024 * 1024;

/**
 * Counters of a source since it was created (across its runs), as gauges for the supervisor's
 * metrics: unparseable input is stored and counted, never dropped.
 */
export interface PgauditStats {
  /** Log records read (of any kind, bad ones included). */
  records: number;
  /** Events handed to the store. */
  events: number;
  /** Events with `parse_error` (bad records, invalid UTF-8, cut statements). */
  parse_errors: number;
  /** Files that went before they were read to their end. */
  files_lost: number;
  /** Bytes written to known files and not yet read. */
  lag_bytes: number;
}

/** Zeroed counters. */
export function newStats(): PgauditStats {
  return { records: 0, events: 0, parse_errors: 0, files_lost: 0, lag_bytes: 0 };
}

/** Runs the source until `ctx.signal` aborts; throws `SourceError` when it cannot go on. */
export async function runPgauditSource(
  s: PgauditSettings,
  ctx: SourceContext,
  stats: PgauditStats = newStats(),
): Promise<void> {
  let state: TailState;
  try {
    state = decodePosition(ctx.position);
  } catch (e) {
    throw new SourceError("decode", `Cannot start pgAudit source ${ctx.name}: ${e}`, { cause: e });
  }
  try {
    fenceLogPaths(s, `pgAudit source "${ctx.name}"`);
  } catch (e) {
    throw new SourceError("connect", `Cannot start pgAudit source ${ctx.name}: ${e}`, { cause: e });
  }
  const glob = compileGlob(s.path);
  const batcher = new Batcher(ctx, s.batchMaxEvents);
  const currentLogfiles = s.currentLogfiles === false
    ? undefined
    : s.currentLogfiles ?? defaultCurrentLogfiles(glob.dir);
  const tailer = new Tailer(state, {
    glob,
    format: s.format,
    decoder: {
      format: s.format,
      logLinePrefix: s.logLinePrefix,
      verbose: s.verbose,
      maxRecordBytes: s.maxRecordBytes,
    },
    currentLogfiles,
    graceMs: s.rotationGraceMs,
    // The directory is listed at most once a second: followed files are read every poll.
    scanIntervalMs: Math.max(s.pollIntervalMs, 1000),
    now: () => Date.now(),
    onGone: (e) => {
      stats.files_lost++;
      log("error", "pgAudit log file gone before it was read to its end", {
        source: ctx.name,
        file: e.name,
        offset: e.offset,
        size: e.size,
      });
      batcher.add(goneEvent(e, ctx.name));
      return Promise.resolve();
    },
  });
  const position = (): string => encodePosition(state);
  const sink: RecordSink = async (tf, records) => {
    for (const rec of records) {
      const ev = eventOf(rec, tf, s, ctx.name);
      tf.entry.offset = rec.offset;
      tf.entry.line = lineAfter(rec);
      stats.records++;
      if (ev !== undefined) {
        stats.events++;
        if (ev.parse_error !== undefined) {
          stats.parse_errors++;
          // Every one is stored; the log names the first few and then every thousandth.
          if (stats.parse_errors <= 10 || stats.parse_errors % 1000 === 0) {
            log("warn", "pgAudit log record stored raw: it could not be parsed", {
              source: ctx.name,
              file: tf.path,
              offset: rec.start,
              line: rec.line,
              parse_errors: stats.parse_errors,
            });
          }
        }
        batcher.add(ev);
      }
      if (batcher.full) await batcher.flush(position, resumeKey(state));
    }
  };
  try {
    while (!ctx.signal.aborted) {
      let more: boolean;
      try {
        more = await tailer.poll(sink);
      } catch (e) {
        if (e instanceof SourceError) throw e;
        throw new SourceError("receive", `pgAudit source ${ctx.name}: ${e}`, { cause: e });
      }
      await batcher.flush(position, resumeKey(state));
      stats.lag_bytes = state.files.reduce((n, e) => n + Math.max(0, e.size - e.offset), 0);
      reportGauges(ctx, stats, tailer.activeCount);
      if (!more) await sleep(s.pollIntervalMs, ctx.signal);
    }
  } finally {
    tailer.close();
    await batcher.drain();
  }
}

/** The event of one record, with its place; undefined for none. */
function eventOf(
  rec: LogRecord,
  tf: TailFile,
  s: PgauditSettings,
  source: string,
): NewEvent | undefined {
  const le = logEvent(rec, { source, timezone: s.timezone, file: tf.path });
  if (le === undefined) return undefined;
  const ev = le.event;
  ev.source_pos = `${tf.entry.hash}:${rec.offset}`;
  if ((ev.statement?.length ?? 0) + (ev.raw?.length ?? 0) > CHECK_CHARS) capSize(ev, rec, tf);
  return ev;
}

/**
 * Keeps an event under the store's frame limit: a statement (or raw text) so long that its JSON
 * would not fit is cut, and the event says so in `parse_error` — stored, not refused.
 */
function capSize(ev: NewEvent, rec: LogRecord, tf: TailFile): void {
  const size = new TextEncoder().encode(JSON.stringify(ev)).length;
  if (size <= MAX_EVENT_BYTES) return;
  const keep = Math.floor(MAX_EVENT_BYTES / 8);
  if (ev.statement !== undefined) ev.statement = ev.statement.slice(0, keep);
  if (ev.raw !== undefined) ev.raw = ev.raw.slice(0, keep);
  const why = `the record in ${tf.path} at byte ${rec.start} (line ${rec.line}) makes an event ` +
    `of ${size} bytes, over the ${MAX_EVENT_BYTES}-byte limit: its statement and raw text are ` +
    `cut to their first ${keep} characters`;
  ev.parse_error = ev.parse_error === undefined ? why : `${ev.parse_error}; ${why}`;
}

/** The alarm for a file that went before it was read to its end. */
function goneEvent(e: FileEntry, source: string): NewEvent {
  return {
    ts: Date.now() * 1000,
    source,
    kind: "system",
    command: "PGAUDIT_FILE_UNREAD",
    object: e.name,
    object_type: "LOG FILE",
    error: `The log file ${e.name} (fingerprint ${e.hash}) is gone with ${e.size - e.offset} ` +
      `bytes not read (read to byte ${e.offset} of ${e.size}): audit records may be lost`,
    context: { fingerprint: e.hash, offset: e.offset, size: e.size },
  };
}

/** The counters as the supervisor's gauges (`/healthz`, `/metrics`). */
function reportGauges(ctx: SourceContext, stats: PgauditStats, files: number): void {
  if (ctx.gauge === undefined) return;
  ctx.gauge("lag_bytes", stats.lag_bytes);
  ctx.gauge("parse_errors", stats.parse_errors);
  ctx.gauge("files_lost", stats.files_lost);
  ctx.gauge("files_open", files);
}

/** What of the state decides where a restart resumes (not sizes or times). */
function resumeKey(state: TailState): string {
  let key = "";
  for (const e of state.files) key += `${e.hash}:${e.offset};`;
  return key;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}
