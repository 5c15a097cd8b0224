/**
 * A Worker that reads a seq range of the log for the index's writer (`log_batches.ts`) and does
 * whatever of each batch's indexing needs no database: it reads, decompresses and parses the
 * events, turns them into the columns the writer stores with their full-text rows
 * (`index_columns.ts`) and feeds the attribution join from the state the writer gave
 * (`link_feed.ts`). It posts each batch with its join's rows (and, every `SAVE_EVERY` events
 * and at the end, the join's state), at most `ahead` batches the writer has not taken yet, so
 * its memory is a few batches whatever the range. A batch's events are read and parsed
 * {@link PIECE} at a time, each piece taken into the batch's columns and the join before the next
 * is parsed: the parsed events of a whole batch (8,192) outlived the young generation's
 * collections, which copied them over and over (GC 694 against 52 ms reading 1.4M events of the
 * scale mix into columns, 5.2–5.6 against 4.6–5.0 s in all).
 */

import { SeqReader } from "../store/seq_reader.ts";
import { ColumnBuilder, type IndexColumns } from "./index_columns.ts";
import { LinkFeed, type LinkRows, type LinkState } from "./link_feed.ts";
import { fieldOffset } from "./field_keys.ts";
import { SAVE_EVERY } from "./links.ts";
import { TEXT_SPAN } from "./text_spans.ts";

/** What the writer asks: a range to read from the join's state, or one more batch of credit. */
export type BatchRequest =
  | {
    type: "read";
    dataDir: string;
    from: number;
    to: number;
    chunk: number;
    ahead: number;
    links: LinkState;
  }
  | { type: "more" };

/** What the Worker posts: a batch, the end of the range, or why it stopped. */
export type BatchMessage =
  | { type: "batch"; cols: IndexColumns; links: LinkRows; state?: LinkState | undefined }
  | { type: "done"; state?: LinkState | undefined }
  | { type: "error"; error: string };

declare const self: {
  onmessage: ((e: MessageEvent<BatchRequest>) => void) | null;
  postMessage(msg: BatchMessage, transfer?: ArrayBuffer[]): void;
};

/**
 * The seq ranges of the batches: `req.chunk` events each, but for the first and the last of a
 * long range, which are shorter: the writer waits for the first batch before it can start, and
 * the Worker waits while the writer takes the last.
 */
async function* batchRanges(
  reader: SeqReader,
  req: { from: number; to: number; chunk: number },
): AsyncGenerator<[number, number]> {
  const { from, to, chunk } = req;
  if (chunk <= EDGE_CHUNK || to - from <= 2 * chunk) {
    yield* reader.chunkRanges(from, to, chunk);
    return;
  }
  // Cut at multiples of `chunk`: at span blocks (`text_spans.ts`), so that no block's text is
  // split between two rows, and so that batches end where blocks of `fields` rows do (see
  // `saveHere`).
  const align = chunk % TEXT_SPAN === 0 ? chunk : TEXT_SPAN;
  const first = Math.ceil((from + EDGE_CHUNK) / align) * align;
  const last = Math.floor((to - EDGE_CHUNK) / align) * align;
  if (first >= last) {
    yield* reader.chunkRanges(from, to, chunk);
    return;
  }
  yield* reader.chunkRanges(from, first, EDGE_CHUNK);
  yield* reader.chunkRanges(first, last, chunk);
  yield* reader.chunkRanges(last, to, EDGE_CHUNK);
}

/**
 * Events read and parsed at a time (2,048): pieces end at multiples of it, a multiple of
 * `TEXT_SPAN`, so a span's events are in one piece (`ColumnBuilder.begin`).
 */
const PIECE = TEXT_SPAN * 128;

/** Events of the first and last batch of a long range. */
const EDGE_CHUNK = 4096;

/**
 * Whether the join's state goes with the batch that ends at `fed`, `since` events after the last
 * save: every {@link SAVE_EVERY} events or so, at the end of a block of `fields` rows. The writer
 * holds a batch's `fields` rows until a state comes (`links.ts`), so a block's rows go into its
 * B-tree at once, sorted, after the rows of the blocks before: appended, where rows inserted batch
 * by batch landed among the block's earlier ones. Past twice the interval it saves wherever it
 * is, so that what the writer holds stays bounded whatever the batches.
 */
function saveHere(since: number, fed: number): boolean {
  if (since < SAVE_EVERY) return false;
  return fieldOffset(fed + 1) === 0 || since >= 2 * SAVE_EVERY;
}

let credit = 0;
let wake: (() => void) | null = null;

async function read(req: Extract<BatchRequest, { type: "read" }>): Promise<void> {
  credit = req.ahead;
  const feed = new LinkFeed(req.links);
  const columns = new ColumnBuilder();
  let saved = req.links.seq;
  const reader = await SeqReader.open(req.dataDir);
  for await (const [a, b] of batchRanges(reader, req)) {
    while (credit <= 0) await new Promise<void>((r) => wake = r);
    const batch = columns.begin(b - a);
    const links: LinkRows = { fields: [], rows: [], lines: [] };
    for (let at = a; at < b;) {
      const end = Math.min(b, (Math.floor(at / PIECE) + 1) * PIECE);
      const piece = await reader.readRange(at, end);
      batch.add(piece);
      feed.feed(piece, links);
      at = end;
    }
    if (batch.count === 0) continue; // nothing the log holds: no batch, as `scan` gives none
    credit--;
    const { cols, transfer } = batch.finish();
    let state: LinkState | undefined;
    if (saveHere(feed.fed - saved, feed.fed)) {
      state = feed.save();
      saved = state.seq;
    }
    self.postMessage({ type: "batch", cols, links, state }, transfer);
  }
  self.postMessage({ type: "done", state: feed.fed === saved ? undefined : feed.save() });
}

self.onmessage = (e): void => {
  const req = e.data;
  if (req.type === "more") {
    credit++;
    const w = wake;
    wake = null;
    w?.();
    return;
  }
  read(req).catch((err) => {
    self.postMessage({ type: "error", error: String((err as Error)?.stack ?? err) });
  });
};
