/**
 * A Worker that reads a seq range of the log for the index's writer (`log_batches.ts`): it reads,
 * decompresses and parses the events and folds their searchable text, and posts them, without
 * what only that text needed, to the writer a batch at
 * a time, at most `ahead` batches the writer has not taken yet, so its memory is a few batches
 * whatever the range.
 */

import type { AuditEvent } from "../event/model.ts";
import { SeqReader } from "../store/seq_reader.ts";
import type { IndexRecord } from "./event_index.ts";
import { searchableText } from "./text.ts";

/** What the writer asks: a range to read, or one more batch of credit. */
export type BatchRequest =
  | { type: "read"; dataDir: string; from: number; to: number; chunk: number; ahead: number }
  | { type: "more" };

/** What the Worker posts: a batch, the end of the range, or why it stopped. */
export type BatchMessage =
  | { type: "batch"; records: IndexRecord[] }
  | { type: "done" }
  | { type: "error"; error: string };

declare const self: {
  onmessage: ((e: MessageEvent<BatchRequest>) => void) | null;
  postMessage(msg: BatchMessage): void;
};

/**
 * The event without what only its searchable text needs (folded into `text` already): row
 * images, parameters, error text and raw line are most of an event's bytes, and copying them to
 * the writer's thread would cost it about what parsing them did.
 */
function slim(ev: AuditEvent): AuditEvent {
  const { old_row: _o, new_row: _n, params: _p, raw: _r, error: _e, ...rest } = ev;
  return rest;
}

let credit = 0;
let wake: (() => void) | null = null;

async function read(req: Extract<BatchRequest, { type: "read" }>): Promise<void> {
  credit = req.ahead;
  const reader = await SeqReader.open(req.dataDir);
  for await (const chunk of reader.scan(req.from, req.to, { chunk: req.chunk })) {
    while (credit <= 0) await new Promise<void>((r) => wake = r);
    credit--;
    const records: IndexRecord[] = chunk.map((r) => ({
      seq: r.seq,
      event: slim(r.event),
      text: searchableText(r.event) ?? null,
    }));
    self.postMessage({ type: "batch", records });
  }
  self.postMessage({ type: "done" });
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
