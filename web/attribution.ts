/**
 * The events the search index links to one event (see `daemon/index/links.ts`), read from the
 * log for the event page: what the index says is only which seqs; what is shown is the log's.
 */

import type { AuditEvent } from "../daemon/event/model.ts";
import type { WebDeps } from "./deps.ts";
import { eventBySeq } from "./search.ts";
import type { AttributionView } from "./views/attribution.tsx";

/** Row changes listed on a statement's page. */
const ROWS_SHOWN = 100;

/** The statement, pgAudit line and row changes linked to `event`; null without an index. */
export async function attributionView(
  deps: WebDeps,
  event: AuditEvent,
): Promise<AttributionView | null> {
  if (deps.index === null) return null;
  let links;
  try {
    links = deps.index.attribution(event.seq, ROWS_SHOWN + 1);
  } catch {
    // An index being rebuilt beside us: the page shows the event without its links.
    return null;
  }
  const view: AttributionView = {};
  if (links.statement !== undefined) {
    const s = await eventBySeq(deps, links.statement);
    if (s !== null) view.statement = s;
  }
  if (links.line !== undefined) {
    const l = await eventBySeq(deps, links.line);
    if (l !== null) view.line = l;
  }
  if (links.rows !== undefined) {
    const rows: AuditEvent[] = [];
    for (const seq of links.rows.slice(0, ROWS_SHOWN)) {
      const r = await eventBySeq(deps, seq);
      if (r !== null) rows.push(r);
    }
    view.rows = rows;
    view.more = links.rows.length > ROWS_SHOWN;
  }
  return view;
}
