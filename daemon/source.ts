/**
 * The one interface every collection method implements (WAL, pgAudit logs, the proxy, cloud
 * log APIs). A source reads from where it starts — the last position the store made durable —
 * emits batches of events with the position after them, and advances its own upstream
 * acknowledgement (a replication slot's flush LSN, nothing for a log file) only once `emit`
 * has resolved, i.e. once the batch is fsynced. That is what makes collection exactly-once.
 */

import type { NewEvent } from "./event/model.ts";
import type { RedactOptions } from "./event/redact.ts";

/** A batch of events and the source's position after them. */
export interface SourceBatch {
  events: NewEvent[];
  /** Where to resume after this batch; stored in the same write as its events. */
  position?: string;
}

/** What the pipeline gives a running source. */
export interface SourceContext {
  /** The configured name: the `source` of every event it emits. */
  readonly name: string;
  /** The last durable position of this source, or undefined on its first start. */
  readonly position: string | undefined;
  /** Stores a batch; resolves once it is durable. Rejects if it could not be stored. */
  emit(batch: SourceBatch): Promise<void>;
  /**
   * Derived state the source saved last with {@link SourceContext.saveState} (e.g. the last
   * reading of the server's configuration, to compare the next one with after a restart), or
   * undefined. Kept by the store beside the position; not an event.
   */
  readonly state?: string | undefined;
  /** Saves derived state durably (a few KiB at most, rarely: it is written whole each time). */
  saveState?(state: string): Promise<void>;
  /** Aborted when the source must stop (shutdown, reload). */
  readonly signal: AbortSignal;
  /**
   * Reports a source-specific gauge for health and metrics, e.g. `connected` (0/1),
   * `lag_bytes` (how far a replication slot trails the server) or `last_commit_age_seconds`.
   */
  gauge?(name: string, value: number): void;
}

/** A collection method, running until its signal aborts or it fails. */
export interface Source {
  run(ctx: SourceContext): Promise<void>;
  /**
   * The redaction its `[[sources]]` table asks for (`redact`, `redact_defaults`; see
   * `redactionFromTable`). The pipeline redacts every emitted event, not the source: absent,
   * the built-in rules apply.
   */
  readonly redaction?: RedactOptions;
}

/** Where a source failed, for logs, metrics and the supervisor's backoff. */
export type SourceStage = "connect" | "receive" | "decode" | "store";

/** A source failure with the stage it happened in. */
export class SourceError extends Error {
  override name = "SourceError";
  readonly stage: SourceStage;
  constructor(stage: SourceStage, message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.stage = stage;
  }
}

/** One kind of source, as a `[[sources]]` table of the configuration names it by `type`. */
export interface SourcePlugin {
  /** The `type` key's value, e.g. `"wal"`. */
  readonly type: string;
  /**
   * Checks a `[[sources]]` table (with its `name` and `type`) without connecting anywhere.
   * Throws `TypeError` naming the bad key, so that `vigil validate` can point at its line.
   */
  validate(table: Readonly<Record<string, unknown>>): void;
  /** Builds the source from a table; throws as `validate` does. */
  create(table: Readonly<Record<string, unknown>>): Source;
  /**
   * "Test connection": checks, read-only and with a timeout, that a source built from this
   * table could run (server reachable, rights, files readable), one finding per line. Never
   * throws for what it finds; lines hold no secret.
   */
  probe?(table: Readonly<Record<string, unknown>>): Promise<{ ok: boolean; lines: string[] }>;
}
