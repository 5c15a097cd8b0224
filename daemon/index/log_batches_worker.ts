/**
 * A Worker that reads a seq range of the log for the index's writer (`log_batches.ts`) and does
 * whatever of each batch's indexing needs no database: it reads, decompresses and parses the
 * events, turns them into the columns the writer stores with their full-text rows
 * (`index_columns.ts`) and feeds the attribution join from the state the writer gave
 * (`link_feed.ts`). It posts each batch with its join's rows (and, every `SAVE_EVERY` events
 * and at the end, the join's state), at most `ahead` batches the writer has not taken yet, so
 * its memory is a few batches whatever the range.
 */

import { SeqReader } from "../store/seq_reader.ts";
import { ColumnBuilder, type IndexColumns } from "./index_columns.ts";
import { LinkFeed, type LinkRows, type LinkState } from "./link_feed.ts";
import { SAVE_EVERY } from "./links.ts";

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

let credit = 0;
let wake: (() => void) | null = null;

async function read(req: Extract<BatchRequest, { type: "read" }>): Promise<void> {
  credit = req.ahead;
  const feed = new LinkFeed(req.links);
  const columns = new ColumnBuilder();
  let saved = req.links.seq;
  const reader = await SeqReader.open(req.dataDir);
  for await (const chunk of reader.scan(req.from, req.to, { chunk: req.chunk })) {
    while (credit <= 0) await new Promise<void>((r) => wake = r);
    credit--;
    const { cols, transfer } = columns.build(chunk);
    const links = feed.feed(chunk);
    let state: LinkState | undefined;
    if (feed.fed - saved >= SAVE_EVERY) {
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
