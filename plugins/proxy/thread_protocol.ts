/**
 * The messages between a proxy source's Worker (`proxy_worker.ts`) and the daemon's thread
 * (`thread.ts`): what each side may post, in one place so that both agree.
 */

import type { SourceBatch, SourceStage } from "../../daemon/source.ts";
import type { ProxySettings } from "./config.ts";

/** From the daemon's thread to the worker. */
export type ToWorker =
  | {
    t: "start";
    name: string;
    position: string | undefined;
    spoolDir: string | undefined;
    settings: ProxySettings;
  }
  /** The source must stop: the worker closes its sessions, stores its backlog, posts `end`. */
  | { t: "abort" }
  /** The answer to the worker's `emit` of this id: durable, or refused with a message. */
  | { t: "ack"; id: number; error?: string };

/** From the worker to the daemon's thread. */
export type FromWorker =
  | { t: "emit"; id: number; batch: SourceBatch }
  | { t: "gauge"; name: string; value: number }
  | { t: "stats"; address: { hostname: string; port: number } | undefined; sessions: number }
  /** The run returned (`error` unset) or failed. */
  | { t: "end"; error?: { message: string; stage: SourceStage } };
