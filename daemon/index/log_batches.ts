/**
 * The log's events of a seq range in batches for the index's writer, prepared on a Worker
 * (`log_batches_worker.ts`): reading, decompressing and parsing the log, folding the text and
 * feeding the attribution join take as long as SQLite's inserts of the same events, so on a
 * Worker they run beside them, on the other core, instead of before them. Same batches, same
 * order, as `SeqReader.scan`; each comes with its full-text rows and its join's rows, for
 * `EventIndex.add(records, fed)`. Memory is a few batches in flight.
 */

import type { IndexColumns } from "./index_columns.ts";
import type { FedLinks } from "./index_rows.ts";
import type { LinkState } from "./link_feed.ts";
import type { BatchMessage, BatchRequest } from "./log_batches_worker.ts";

/** A prepared batch; the last may hold no events, only the join's final state. */
export interface LogBatch {
  cols: IndexColumns;
  fed: FedLinks;
}

/**
 * Batches the Worker reads ahead of the writer: with batches of 8,192 events, a transaction's
 * worth of them (32,768) ready while the writer inserts the one before.
 */
const AHEAD = 8;

const NO_ROWS = { fields: [], rows: [], lines: [] };

function noColumns(): IndexColumns {
  const none = new Float64Array(0);
  return { seqs: none, ts: none, rows: none, names: new Int32Array(0), strings: [], spans: [] };
}

/**
 * The events with seq in [from, to) that the log of `dataDir` holds, in ascending batches of
 * about `chunk`, the join fed from `links` (the index's saved state, up to `from - 1`), handed
 * over in groups: the batches that have arrived, up to `most` events (at least one batch). So the
 * writer takes large transactions when it is the slower of the two threads, and does not wait
 * for more batches when the Worker is, while the Worker holds only a batch of parsed events at a
 * time. Breaking out of the loop ends the Worker.
 */
export async function* logBatches(
  dataDir: string,
  range: { from: number; to: number; chunk: number; most: number },
  links: LinkState,
): AsyncGenerator<LogBatch[]> {
  const { from, to, chunk } = range;
  const worker = new Worker(new URL("./log_batches_worker.ts", import.meta.url).href, {
    type: "module",
  });
  const got: BatchMessage[] = [];
  let wake: (() => void) | null = null;
  const arrive = (m: BatchMessage): void => {
    got.push(m);
    const w = wake;
    wake = null;
    w?.();
  };
  worker.onmessage = (e: MessageEvent<BatchMessage>) => arrive(e.data);
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    arrive({ type: "error", error: e.message });
  };
  const ask = (req: BatchRequest): void => worker.postMessage(req);
  const size = (m: BatchMessage): number => m.type === "batch" ? m.cols.seqs.length : 0;
  try {
    ask({ type: "read", dataDir, from, to, chunk, ahead: AHEAD, links });
    for (let done = false; !done;) {
      while (got.length === 0) await new Promise<void>((r) => wake = r);
      const group: LogBatch[] = [];
      let events = 0;
      while (got.length > 0 && (group.length === 0 || events + size(got[0]!) <= range.most)) {
        const m = got.shift()!;
        if (m.type === "error") {
          throw new Error(`Cannot read seqs ${from}..${to - 1} of ${dataDir}: ${m.error}`);
        }
        if (m.type === "done") {
          if (m.state) group.push({ cols: noColumns(), fed: { rows: NO_ROWS, state: m.state } });
          done = true;
          break;
        }
        ask({ type: "more" });
        group.push({ cols: m.cols, fed: { rows: m.links, state: m.state } });
        events += m.cols.seqs.length;
      }
      if (group.length > 0) yield group;
    }
  } finally {
    worker.terminate();
  }
}
