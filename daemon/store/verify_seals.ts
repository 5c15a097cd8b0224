/**
 * The cheap check of a data directory that `vigil serve` runs at start, before it serves: what
 * can be known about the log without reading it. Read-only. Of each segment it reads only its
 * two ends (`segment_ends.ts`): the header (or a compressed one's block table) and, when sealed,
 * the part that holds its seal record — an uncompressed one's last bytes, a compressed one's last
 * block — never the records in between. So its cost follows the number of segment files, at
 * about one block (≤ 1 MiB) each, not the number of events.
 *
 * What it promises to find: a sealed segment missing (its seal's `next_seq` is not where the
 * next file starts, or the first file is not where the log or `retained.json` starts); a
 * sealed segment cut short or grown (an uncompressed one no longer ends with its seal record, a
 * compressed one's size is not what its block table says); a seam whose chain head does not
 * continue (a seal's chain head against the next header's); the log ending before the latest
 * signed checkpoint; and signed checkpoints gone from `checkpoints.jsonl` when the log's last
 * commit frame says a larger one was signed. What it cannot find — a byte changed inside a
 * sealed segment's records — is left to the full verification (`verify.ts`). With a
 * `SealCache` (`seal_cache.ts`), a sealed segment whose file is unchanged since the last start
 * is not read again: its ends as read then are used.
 */

import type { Checkpoint } from "./checkpoint.ts";
import { describePlace, type LogPlace, StoreDamageError } from "./errors.ts";
import { GENESIS_CHAIN } from "./frame.ts";
import { hex } from "./keys.ts";
import { readRetainedStart } from "./retained.ts";
import { activeClaim, activeEnds, sealedEnds } from "./segment_ends.ts";
import type { SealCache } from "./seal_cache.ts";
import { listSegments } from "./segment_file.ts";
import { storePaths } from "./store_open.ts";

/** What the start check found. */
export interface SealReport {
  ok: boolean;
  /** Segment files looked at. */
  segments: number;
  /** The first problem, with its place; null when none. */
  problem: { reason: string; place: LogPlace; text: string } | null;
}

/** What the writer knows of the log it opened. */
export interface OpenedLog {
  /** Events in the log (the next seq). */
  size: number;
  /** The latest checkpoint in `checkpoints.jsonl`, or null. */
  checkpoint: Checkpoint | null;
}

/**
 * Checks the segment files of `dataDir` against each other and against what the writer opened.
 * Call it before anything is appended (the active segment's tail is read as the writer left it).
 * Never throws for damage: it is in the report.
 */
export async function checkSeals(
  dataDir: string,
  log: OpenedLog,
  opts: { cache?: SealCache } = {},
): Promise<SealReport> {
  const report: SealReport = { ok: true, segments: 0, problem: null };
  const cache = opts.cache;
  try {
    const retained = await readRetainedStart(dataDir).catch((e) => {
      throw new StoreDamageError((e as Error).message);
    });
    const start = retained?.from_seq ?? 0;
    // Segments wholly before the retained start are left over from a deletion cut short.
    const segments = (await listSegments(storePaths(dataDir).segments)).filter((s, i, all) =>
      !(all[i + 1] && all[i + 1]!.firstSeq <= start && s.firstSeq < start)
    );
    report.segments = segments.length;
    if (segments.length === 0) {
      if (log.size > start) {
        throw new StoreDamageError(`no segment files, but the log holds ${log.size}`);
      }
      return report;
    }
    // The active segment first, while nothing has been appended to it since the writer opened it.
    const active = segments[segments.length - 1]!;
    let claim = await activeClaim(active);
    let nextSeq = start;
    let chain = retained ? retained.chain : hex(GENESIS_CHAIN);
    let before = retained ? "retained.json's start" : "the log's start";
    const reads = readAhead(
      segments,
      (entry, i) =>
        i === segments.length - 1
          ? activeEnds(entry)
          : cache
          ? cache.ends(entry, sealedEnds)
          : sealedEnds(entry),
    );
    for (const [i, entry] of segments.entries()) {
      const sealed = i < segments.length - 1;
      const ends = await reads.next();
      const place = { segment: entry.name, offset: 0 };
      if (ends.firstSeq !== nextSeq) {
        const missing = ends.firstSeq > nextSeq
          ? `: the events ${nextSeq}..${ends.firstSeq - 1} are missing (a segment deleted?)`
          : "";
        throw new StoreDamageError(
          `segment starts at seq ${ends.firstSeq}, expected ${nextSeq} after ${before}${missing}`,
          place,
        );
      }
      if (hex(ends.prevChain) !== chain) {
        throw new StoreDamageError(`segment's chain head does not continue ${before}`, place);
      }
      if (!sealed) break;
      if (ends.nextSeq < ends.firstSeq) {
        throw new StoreDamageError(
          `seal record says the segment ends at seq ${ends.nextSeq}`,
          place,
        );
      }
      claim = Math.max(claim, ends.claim);
      nextSeq = ends.nextSeq;
      chain = hex(ends.chain);
      before = `the seal of ${entry.name}`;
    }
    const signed = log.checkpoint?.size ?? 0;
    if (signed > log.size) {
      throw new StoreDamageError(
        `log ends at seq ${log.size} but a signed checkpoint covers ${signed} events`,
        { segment: active.name },
      );
    }
    if (claim > signed) {
      throw new StoreDamageError(
        `signed checkpoints are gone: the log records that a checkpoint of ${claim} events was ` +
          `signed, but the largest in checkpoints.jsonl covers ${signed}`,
        { segment: active.name },
      );
    }
    // Only ends of a check that passed are kept; a cache that cannot be written costs the
    // next start its reads, nothing else.
    await cache?.save().catch(() => {});
  } catch (e) {
    if (!(e instanceof StoreDamageError)) {
      throw e;
    }
    const text = describePlace(e.place) ? `${describePlace(e.place)}: ${e.reason}` : e.reason;
    return {
      ok: false,
      segments: report.segments,
      problem: { reason: e.reason, place: e.place, text },
    };
  }
  return report;
}

/**
 * Segments whose ends are read at once, ahead of the one checked: a read is a few small reads of
 * the file, and the checks of a store without a seal cache (its first start, hundreds of
 * segments at 100M events) wait mostly on them.
 */
const READ_AHEAD = 8;

/**
 * `read` of each of `items`, started up to {@link READ_AHEAD} ahead of the one `next()` gives,
 * in order. A read that fails is reported when its turn comes, not before: the checks report the
 * first segment in log order that fails, as one at a time did.
 */
function readAhead<T, R>(
  items: readonly T[],
  read: (item: T, index: number) => Promise<R>,
): { next(): Promise<R> } {
  const started: (Promise<R> | undefined)[] = [];
  const start = (j: number) => {
    if (j >= items.length) return;
    const p = read(items[j]!, j);
    // Handled when awaited in turn; a check that stops early leaves no unhandled rejection.
    p.catch(() => {});
    started[j] = p;
  };
  for (let j = 0; j < READ_AHEAD; j++) start(j);
  let at = 0;
  return {
    next() {
      const p = started[at]!;
      started[at] = undefined;
      start(at + READ_AHEAD);
      at++;
      return p;
    },
  };
}
