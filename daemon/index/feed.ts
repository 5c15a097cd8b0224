/**
 * Keeps the derived search index in step with the store: on attach it catches up from the log
 * (everything after the index's last seq), then indexes each batch as it becomes durable. An
 * index ahead of the log (which only damage can cause) is dropped and rebuilt.
 */

import { log } from "../log.ts";
import { readLog } from "../store/log_reader.ts";
import { Store } from "../store/store.ts";
import { EventIndex, indexPath, type IndexRecord, IndexUnavailableError } from "./event_index.ts";

const CATCH_UP_BATCH = 10_000;

/** Fills `index` with the log's events after its last seq, up to `toSeq`. Returns how many. */
async function catchUp(index: EventIndex, dataDir: string, toSeq: number): Promise<number> {
  let added = 0;
  let batch: IndexRecord[] = [];
  for await (const r of readLog(dataDir, { fromSeq: index.lastSeq() + 1, toSeq })) {
    batch.push(r);
    if (batch.length >= CATCH_UP_BATCH) {
      added += index.add(batch);
      batch = [];
    }
  }
  if (batch.length > 0) added += index.add(batch);
  return added;
}

/** Opens the index of an open store, catches it up and feeds it every durable batch. */
export async function attachIndex(store: Store): Promise<{ close: () => void }> {
  const index = EventIndex.open(indexPath(store.dataDir));
  if (index.lastSeq() >= store.size) {
    log("warn", "search index is ahead of the log; rebuilding it", {
      index_last_seq: index.lastSeq(),
      log_size: store.size,
    });
    index.reset();
  }
  const added = await catchUp(index, store.dataDir, store.size);
  if (added > 0) log("info", "search index caught up from the log", { events: added });
  let open = true;
  store.onDurable((records) => {
    if (open) index.add(records);
  });
  return {
    close: () => {
      open = false;
      index.close();
    },
  };
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
    const index = EventIndex.open(indexPath(dataDir));
    try {
      index.reset();
      return await catchUp(index, dataDir, store.size);
    } finally {
      index.close();
    }
  } finally {
    await store.close();
  }
}
