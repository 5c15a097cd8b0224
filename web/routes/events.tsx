/**
 * Event search and the event page (auditor and admin). Each search, each event viewed, each
 * proof and each download is first recorded in the chain (SEARCH, VIEW_EVENT, VIEW_PROOF,
 * EXPORT), then answered.
 */

import { Hono } from "hono";
import { canonicalJson } from "../../daemon/event/canonical.ts";
import { recordUiAction } from "../audit_trail.ts";
import { requireRole } from "../auth/session.ts";
import type { WebDeps } from "../deps.ts";
import type { WebContext, WebEnv } from "../env.ts";
import { proveEvent, segmentOf } from "../proof.ts";
import {
  DEFAULT_PAGE,
  describeFilter,
  eventBySeq,
  FILTER_PARAMS,
  logReader,
  MAX_PAGE,
  parseSearch,
  searchEvents,
  SearchParamError,
  type SearchRequest,
} from "../search.ts";
import { attributionView } from "../attribution.ts";
import { EventPage } from "../views/event.tsx";
import { EventsPage } from "../views/events.tsx";

/** The non-blank filter values of the request, and them as a query string for links. */
function formValues(c: WebContext): { values: Record<string, string>; query: string } {
  const values: Record<string, string> = {};
  const q = new URLSearchParams();
  for (const k of FILTER_PARAMS) {
    const v = c.req.query(k)?.trim();
    if (v) {
      values[k] = v;
      q.set(k, v);
    }
  }
  return { values, query: q.toString() };
}

function seqParam(c: WebContext): number | null {
  const s = c.req.param("seq") ?? "";
  return /^\d{1,15}$/.test(s) ? Number(s) : null;
}

/** Routes under /events. */
export function eventRoutes(deps: WebDeps): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  app.use("*", requireRole("admin", "auditor"));

  app.get("/", async (c) => {
    const user = c.get("user")!, csrf = c.get("session")!.csrf;
    const { values, query } = formValues(c);
    let req: SearchRequest;
    try {
      req = parseSearch((k) => c.req.query(k), { limit: DEFAULT_PAGE });
    } catch (e) {
      if (!(e instanceof SearchParamError)) throw e;
      return c.html(
        <EventsPage
          {...{ user, csrf, values, query }}
          page={null}
          error={e.message}
          before={undefined}
        />,
        400,
      );
    }
    const upTo = deps.store.size;
    await recordUiAction(deps, c, { command: "SEARCH", context: describeFilter(req) });
    const page = await searchEvents(deps, req, upTo);
    return c.html(<EventsPage {...{ user, csrf, values, query, page }} before={req.before} />);
  });

  app.get("/export.jsonl", async (c) => {
    let req: SearchRequest;
    try {
      req = parseSearch((k) => c.req.query(k), { limit: MAX_PAGE });
    } catch (e) {
      if (!(e instanceof SearchParamError)) throw e;
      return c.text(`Bad search: ${e.message}`, 400);
    }
    const upTo = deps.store.size;
    await recordUiAction(deps, c, { command: "EXPORT", context: describeFilter(req) });
    const page = await searchEvents(deps, req, upTo);
    c.header("Content-Disposition", 'attachment; filename="vigil-events.jsonl"');
    c.header("Content-Type", "application/x-ndjson; charset=utf-8");
    return c.body(page.events.map((e) => canonicalJson(e) + "\n").join(""));
  });

  app.get("/:seq", async (c) => {
    const seq = seqParam(c);
    const event = seq === null ? null : await eventBySeq(deps, seq);
    if (!event) return c.text("No such event", 404);
    await recordUiAction(deps, c, { command: "VIEW_EVENT", object: `event ${event.seq}` });
    const [segment, proof, attribution] = await Promise.all([
      segmentOf(deps.store.dataDir, event.seq),
      proveEvent(deps.store.dataDir, event, logReader(deps)),
      attributionView(deps, event),
    ]);
    return c.html(
      <EventPage
        user={c.get("user")!}
        csrf={c.get("session")!.csrf}
        {...{ event, segment, proof, attribution }}
      />,
    );
  });

  app.get("/:seq/proof.json", async (c) => {
    const seq = seqParam(c);
    const event = seq === null ? null : await eventBySeq(deps, seq);
    if (!event) return c.json({ error: "no such event" }, 404);
    await recordUiAction(deps, c, { command: "VIEW_PROOF", object: `event ${event.seq}` });
    const proof = await proveEvent(deps.store.dataDir, event, logReader(deps));
    if (!proof.ok) return c.json({ seq: event.seq, error: proof.reason }, 409);
    const { ok: _ok, ...body } = proof;
    return c.json({ ...body, event });
  });

  return app;
}
