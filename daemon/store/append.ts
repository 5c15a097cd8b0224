/**
 * What goes into the store and what comes back: the types of `Store.append` and of the records
 * it hands to derived consumers once durable. Apart from `store.ts` so that the framing code
 * below it can name them without importing the store.
 */

import type { AuditEvent, NewEvent } from "../event/model.ts";

/** One batch handed to `append`. */
export interface AppendBatch {
  source: string;
  events: NewEvent[];
  /** The source's position after this batch; durable together with its events. */
  position?: string;
}

/** What `append` resolves with. */
export interface AppendResult {
  /** Seq of the first event of the batch (the next seq when the batch was empty). */
  firstSeq: number;
  count: number;
}

/** An event that became durable, for derived consumers (index, detectors). */
export interface DurableRecord {
  seq: number;
  event: AuditEvent;
  json: string;
}
