/**
 * The attribution join as the index feeds it, without the database: events in seq order in, out
 * the rows they add to the index's `fields`, `attribution` and `logged` tables (`links.ts` writes
 * them). Apart from the writer so that `vigil reindex` runs it on the Worker that reads the log
 * (`log_batches_worker.ts`), beside the writer's inserts, and the writer only stores its rows.
 *
 * Promise: the rows depend only on the state it started from and the events fed after it, each
 * once (an event at or below the last seq fed is skipped), so the Worker and the writer's own
 * join give the same rows for the same events.
 */

import { CoverageJoin, type CoverageLink } from "../coverage/join.ts";
import type { AuditEvent } from "../event/model.ts";
import { eventFieldKeys, fieldBlock, fieldOffset } from "./field_keys.ts";

/**
 * How long the index's join waits for the other channel: longer than detection's default, since
 * a link found late is still worth having and nothing is alarmed here.
 */
const WAIT_US = 5 * 60e6;
/** Pending entries of each kind: a statement whose line comes later than this many is unlinked. */
const MAX_PENDING = 20_000;

/** The join's saved state and the last seq fed into it. */
export interface LinkState {
  state: unknown;
  seq: number;
}

/** What a run of events adds to the index's link tables, as flat argument lists. */
export interface LinkRows {
  /** `fields` rows: (block, key, offset) triples (`field_keys.ts`). */
  fields: number[];
  /** `attribution` rows: (row change, statement message) pairs. */
  rows: number[];
  /** `logged` rows: (statement message, pgAudit line) pairs. */
  lines: number[];
}

/** The join of one index, fed in seq order. */
export class LinkFeed {
  readonly #join = new CoverageJoin({
    waitUs: WAIT_US,
    quietUs: WAIT_US,
    maxPending: MAX_PENDING,
  });
  #fed: number;

  /** A join that starts from `from` (a saved state), or empty. */
  constructor(from?: LinkState) {
    if (from) this.#join.load(from.state);
    this.#fed = from?.seq ?? -1;
  }

  /** The last seq taken in. */
  get fed(): number {
    return this.#fed;
  }

  /**
   * Feeds the events after the last seq taken in; returns their rows: the attributed fields of
   * each event (its own, and for a row change those of the statement message that made it) and
   * the links found, appended to `out` when given (a batch fed a piece at a time).
   */
  feed(
    records: readonly { seq: number; event: AuditEvent }[],
    out: LinkRows = { fields: [], rows: [], lines: [] },
  ): LinkRows {
    const addFields = (keys: readonly number[], seq: number): void => {
      const block = fieldBlock(seq), offset = fieldOffset(seq);
      for (const key of keys) out.fields.push(block, key, offset);
    };
    const links: CoverageLink[] = [];
    const sink = { link: (l: CoverageLink) => links.push(l) };
    for (const r of records) {
      if (r.seq <= this.#fed) continue;
      this.#fed = r.seq;
      const keys = eventFieldKeys(r.event);
      addFields(keys, r.seq);
      this.#join.add(r.seq, r.event, sink);
      if (links.length === 0) continue;
      // A row link is made as its statement message is fed: that is `r`.
      for (const l of links) {
        if (l.kind === "row") {
          out.rows.push(l.from, l.to);
          addFields(keys, l.from);
        } else out.lines.push(l.from, l.to);
      }
      links.length = 0;
    }
    return out;
  }

  /** The state to save, with the last seq taken in. */
  save(): LinkState {
    return { state: this.#join.save(), seq: this.#fed };
  }
}
