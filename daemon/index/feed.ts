/**
 * Keeps the derived search index in step with the store: on attach it catches up from the log
 * (everything after the index's last seq) in the background — the daemon answers and collects
 * meanwhile, and searches read what the index does not hold yet from the log — then indexes
 * durable batches as they land. `lag()` says how far it trails the log. Indexing
 * runs beside the store's write path, never inside it: a slow index lags, it does not slow
 * appends or their acks. Under a stream of small durable batches, the queued ones are merged
 * into one transaction, ten a second at most, since each transaction has a fixed cost (its
 * commit, now and then a WAL checkpoint's fsync) on the thread that also runs the sources. When
 * too much is waiting, the queue is dropped and the index catches up
 * from the log instead — the log is the truth. An index ahead of the log (which only damage can
 * cause) is dropped and rebuilt. Rows of seqs retention deleted from the log are dropped too:
 * when retention says so (`dropBefore`) and, for a deletion made while the daemon was stopped,
 * below the log's start at attach — in small transactions between batches, so a large deletion
 * never stalls the daemon. Rows are only ever added right after the index's last seq: batches
 * queued behind a catch-up that was cut short are read from the log later instead, so the index
 * never holds a gap that the next start would take for rows removed by hand.
 */

import { log } from "../log.ts";
import { SeqReader } from "../store/seq_reader.ts";
import { type DurableRecord, Store } from "../store/store.ts";
import { EventIndex, indexPath, IndexUnavailableError } from "./event_index.ts";
import { ColumnStrings } from "./index_columns.ts";
import { logBatches } from "./log_batches.ts";
import type { SeqRange } from "./tally.ts";

/**
 * Events read from the log and added to the index at a time while catching up: one synchronous
 * transaction, so its length is how long HTTP and the sources wait (a batch of 8,192 took 3–6 s
 * on a store of 100M events with an index of millions of rows under load).
 */
const CATCH_UP_BATCH = 2048;
/**
 * Events behind from which `vigil reindex` reads the log on a Worker (`log_batches.ts`), so that
 * SQLite's inserts and the reading and parsing run on both cores; for fewer, starting a Worker
 * costs more than it saves. Not the daemon's catch-up: the Worker's isolate left the process
 * ~110 MiB more resident (`bench search` at 1M events), against a memory bound.
 */
const WORKER_FROM = 50_000;
/**
 * Most events a transaction of `vigil reindex`: nothing else waits on its thread, and each commit
 * writes the full-text table's pending terms out as a segment of their own, which costs less a
 * term in larger batches (1M events of the scale bench's mix: the commits 3.0 s at 2,048, 2.0 at
 * 8,192; the writer's thread 7.8–8.4 CPU-s at 8,192, 7.1–7.5 at 32,768). The Worker reads the
 * log in batches of {@link REINDEX_READ}, a transaction taking those that are ready
 * (`log_batches.ts`): read in batches of 32,768, the process peaked at 711 MiB, against 408 at
 * 8,192.
 */
const REINDEX_BATCH = 32_768;
/** Events the Worker of `vigil reindex` reads and prepares at a time. */
const REINDEX_READ = 8192;
/**
 * Most events held in memory for the index before it falls back to reading the log. Each holds
 * its event (row images and all, ~1 KiB and more), so the bound is one of memory: past it the
 * queue is let go and the log, which has the same events, is read instead.
 */
const MAX_QUEUED = 32_768;
/**
 * The same while catching up from the log. A catch-up of millions of events takes minutes, and
 * everything stored meanwhile would wait in the queue (200k events took the daemon's heap from 40
 * to over 200 MiB under a WAL and a pgAudit source): past two batches the queue is let go, and
 * the next catch-up reads those events from the log, from the page cache as a rule.
 */
const MAX_QUEUED_CATCHING_UP = 2 * CATCH_UP_BATCH;
/**
 * `vigil reindex`'s page cache, KiB: a process of its own, outside the daemon's memory bound, whose
 * bulk fill ends in sorts that build the B-tree indexes within the cache.
 */
const REINDEX_CACHE_KIB = 32_768;
/**
 * Least time between two index transactions while batches keep landing: a transaction has a
 * fixed cost (~3 ms under load here, its commit and now and then a checkpoint) on the thread
 * that also serves the sources, so the queued batches are merged into one transaction instead.
 */
const MIN_ADD_INTERVAL_MS = 100;

/**
 * Fills `index` with the log's events after its last seq, up to `toSeq`, one batch in memory at
 * a time whatever the gap (a few with `worker`, read on a Worker). Returns how many.
 */
async function catchUp(
  index: EventIndex,
  dataDir: string,
  toSeq: number,
  stopped: () => boolean = () => false,
  opts: { worker?: boolean } = {},
): Promise<number> {
  const reader = await SeqReader.open(dataDir);
  const start = await reader.start();
  await dropDeleted(index, start, stopped);
  // The attribution join's state is saved now and then, not with every batch: after a crash it
  // takes in again what it had not saved (of what the log still holds), before the index goes on.
  const links = index.linksFrom();
  if (links < index.lastSeq()) {
    for await (
      const batch of reader.scan(Math.max(links + 1, start), index.lastSeq() + 1, {
        chunk: CATCH_UP_BATCH,
      })
    ) {
      index.add(batch);
      if (stopped()) return 0;
      await turn();
    }
  }
  let added = 0;
  const from = index.lastSeq() + 1;
  if (opts.worker && toSeq - from >= WORKER_FROM) {
    const range = { from, to: toSeq, chunk: REINDEX_READ, most: REINDEX_BATCH };
    const strings = new ColumnStrings();
    for await (const group of logBatches(dataDir, range, index.linkState())) {
      for (const batch of group) strings.take(batch.cols);
      added += index.addPrepared(group, strings);
      if (stopped()) break;
      await turn();
    }
    return added;
  }
  for await (const batch of reader.scan(from, toSeq, { chunk: CATCH_UP_BATCH })) {
    added += index.add(batch);
    // A stop does not wait for a long catch-up: the next start goes on from the index's end.
    if (stopped()) break;
    await turn();
  }
  return added;
}

/**
 * A turn of the event loop between two batches of a catch-up: the log reader answers from memory
 * and the index writes synchronously, so without it a catch-up of millions of events held the
 * thread that serves HTTP and the sources for tens of seconds at a time (`/healthz` timed out).
 */
function turn(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

/** Drops the rows below `to` a transaction at a time, yielding between; false when stopped. */
async function dropDeleted(
  index: EventIndex,
  to: number,
  stopped: () => boolean = () => false,
): Promise<boolean> {
  while (index.dropBefore(to)) {
    if (stopped()) return false;
    await new Promise((r) => setTimeout(r, 0));
  }
  return true;
}

/** A running index feed. */
export interface IndexFeed {
  /** Resolves when everything durable so far is indexed. */
  drain(): Promise<void>;
  /** Durable events the index does not hold yet. */
  lag(): number;
  /** Durable events held in memory until the index takes them (the rest it reads from the log). */
  queued(): number;
  /**
   * Drops the rows of seqs below `to`, which retention has deleted (or is about to delete)
   * from the log; resolves once they are gone.
   */
  dropBefore(to: number): Promise<void>;
  /** Indexes what is waiting, then closes the index. */
  close(): Promise<void>;
  /**
   * The seq ranges whose rows the start found changed by hand (the index was then rebuilt), or
   * an empty list.
   */
  readonly foundAtStart: readonly SeqRange[];
  /**
   * Drops the index and fills it again from the log (searches read from the log meanwhile);
   * resolves once it has caught up with what was durable when called.
   */
  rebuild(): Promise<void>;
}

/**
 * Opens the index of an open store and feeds it every durable batch, after catching it up from
 * the log in the background (`drain()` waits for that too).
 */
export function attachIndex(store: Store): Promise<IndexFeed> {
  const index = EventIndex.open(indexPath(store.dataDir));
  if (index.lastSeq() >= store.size) {
    log("warn", "search index is ahead of the log; rebuilding it", {
      index_last_seq: index.lastSeq(),
      log_size: store.size,
    });
    index.reset();
  }
  const untrusted = index.untrusted(0, store.size);
  if (untrusted.length > 0) {
    // Searches read those seqs from the log meanwhile, so nothing is hidden or changed; the
    // catch-up below rebuilds the whole index from the log in the background.
    log("warn", "search index rows were changed by hand; rebuilding the index from the log", {
      seq_ranges: untrusted.slice(0, 10),
    });
    index.reset();
  }

  let queue: DurableRecord[][] = [];
  let queued = 0;
  // The first run of the loop catches up from the log: what the index missed while stopped.
  let overflowed = true;
  let running: Promise<void> | null = null;
  // Retention's latest start; the work loop drops the rows below it between batches.
  let dropTo = 0;
  let droppedTo = 0;
  let lastAdd = -Infinity;
  let catching = false;
  const work = async (): Promise<void> => {
    // Yield first, so that the store's commit that queued this batch finishes undisturbed.
    await new Promise((r) => setTimeout(r, 0));
    while (queue.length > 0 || overflowed || droppedTo < dropTo) {
      if (droppedTo < dropTo) {
        const to = dropTo;
        try {
          // A stop cuts this short: the next attach drops what is left below the log's start.
          await dropDeleted(index, to, () => stopping);
        } catch (e) {
          // The rows stay until the next start drops them; searches never show deleted events.
          log("warn", "search index could not drop the rows of deleted events", {
            to_seq: to,
            error: String(e),
          });
        }
        droppedTo = Math.max(droppedTo, to);
        continue;
      }
      if (overflowed) {
        overflowed = false;
        queue = [];
        queued = 0;
        catching = true;
        try {
          const added = await catchUp(index, store.dataDir, store.size, () => stopping);
          if (added > 0) log("info", "search index caught up from the log", { events: added });
        } catch (e) {
          // Searches read what the index lacks from the log; the next batch tries again.
          log("warn", "search index could not catch up from the log", { error: String(e) });
        } finally {
          catching = false;
        }
        continue;
      }
      const since = performance.now() - lastAdd;
      if (since < MIN_ADD_INTERVAL_MS && !stopping) {
        await new Promise((r) => setTimeout(r, MIN_ADD_INTERVAL_MS - since));
        continue;
      }
      // Merged up to a catch-up batch's size, so that one transaction stays short.
      let take = 1;
      let size = queue[0]!.length;
      while (take < queue.length && size + queue[take]!.length <= CATCH_UP_BATCH) {
        size += queue[take++]!.length;
      }
      const taken = queue.splice(0, take);
      let batch = take === 1 ? taken[0]! : taken.flat();
      queued -= batch.length;
      // Only what follows the index's end without a gap: a catch-up cut short (a stop, an error)
      // leaves the index behind the batches queued meanwhile, and rows past a gap would look, at
      // the next start, like rows removed by hand. Past a gap the log is read instead.
      const next = index.lastSeq() + 1;
      if (batch[0]!.seq < next) batch = batch.filter((r) => r.seq >= next);
      if (batch.length === 0) continue;
      if (batch[0]!.seq > next) {
        queue = [];
        queued = 0;
        // Stopping: the next start catches up from the index's end.
        if (!stopping) overflowed = true;
        continue;
      }
      lastAdd = performance.now();
      try {
        index.add(batch);
      } catch (e) {
        log("warn", "search index update failed; it will catch up from the log", {
          error: String(e),
        });
        overflowed = true;
      }
      await new Promise((r) => setTimeout(r, 0));
    }
  };
  const kick = (): void => {
    running ??= work().finally(() => {
      running = null;
      // A batch queued while the loop was ending would otherwise wait for the next one.
      if (queue.length > 0 || overflowed || droppedTo < dropTo) kick();
    });
  };
  let open = true;
  let stopping = false;
  store.onDurable((records) => {
    if (!open) return;
    if (queued + records.length > (catching ? MAX_QUEUED_CATCHING_UP : MAX_QUEUED)) {
      // Let go now, not when the loop gets to it: the log has these events.
      overflowed = true;
      queue = [];
      queued = 0;
    } else if (!overflowed) {
      queue.push(records);
      queued += records.length;
    }
    kick();
  });
  const drain = async (): Promise<void> => {
    while (running) await running;
  };
  kick();
  return Promise.resolve({
    foundAtStart: untrusted,
    rebuild: async () => {
      // Not in the middle of a catch-up, which would go on from where it was.
      await drain();
      index.reset();
      overflowed = true;
      kick();
      await drain();
    },
    drain,
    lag: () => Math.max(0, store.size - 1 - index.lastSeq()),
    queued: () => queued,
    dropBefore: async (to: number) => {
      if (!open || to <= dropTo) return;
      dropTo = to;
      kick();
      await drain();
    },
    close: async () => {
      stopping = true;
      await drain();
      open = false;
      index.close();
    },
  });
}

/** The index for searching beside a writer, or null when there is none yet. */
export function openIndexForRead(dataDir: string): EventIndex | null {
  try {
    return EventIndex.open(indexPath(dataDir), { readonly: true });
  } catch (e) {
    if (e instanceof IndexUnavailableError) return null;
    throw e;
  }
}

/** Drops and rebuilds the index from the log, holding the writer lock. Returns the count. */
export async function rebuildIndex(dataDir: string): Promise<number> {
  const store = await Store.open(dataDir, { checkpointIntervalMs: 0 });
  try {
    const index = EventIndex.open(indexPath(dataDir), { cacheKiB: REINDEX_CACHE_KIB });
    try {
      index.reset();
      return await index.bulkFill(() =>
        catchUp(index, dataDir, store.size, undefined, { worker: true })
      );
    } finally {
      index.close();
    }
  } finally {
    await store.close();
  }
}
