/**
 * The application events API, version 1.
 *
 * `POST /api/v1/events` (token with scope `ingest`) takes a JSON array of events — or JSON
 * lines — in the canonical field names, checks each against the schema, and answers 201 only
 * once `store.append` has resolved, i.e. the batch is fsynced. All or nothing: one bad event
 * refuses the batch with 400 naming its index and field. The token's name is the source and
 * the event's `token` field (which a posted event may not set), and its identity is in each
 * event's context; it posts `app` events only, never Vigil's own
 * commands (`../token_events.ts`), and a token named like a configured source is refused.
 * Bodies over 1 MiB or batches over 1000 events get 413; a store that cannot take the batch
 * (a full disk) 503.
 *
 * `GET /api/v1/events` (token with scope `read`, or a signed-in auditor or admin) searches with
 * the filters of `vigil query`, newest first; `next_before` pages on.
 */

import { Hono } from "hono";
import { parseJsonExact } from "../../daemon/event/json_exact.ts";
import type { NewEvent } from "../../daemon/event/model.ts";
import {
  EventLimitError,
  EventValidationError,
  validateEvent,
} from "../../daemon/event/validate.ts";
import { recordUiAction } from "../audit_trail.ts";
import { requireApiAccess } from "../auth/bearer.ts";
import type { WebDeps } from "../deps.ts";
import type { WebEnv } from "../env.ts";
import { describeFilter, parseSearch, searchEvents, SearchParamError } from "../search.ts";
import {
  checkTokenEvent,
  configuredSourceNames,
  sourceClash,
  stampToken,
} from "../token_events.ts";
import { log } from "../../daemon/log.ts";

/** Largest request body, bytes. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Most events in one request. */
export const MAX_EVENTS = 1000;
/** Default and largest page of a search. */
const API_PAGE = 100;

class TooLarge extends RangeError {}

/** Reads the body, refusing it past `max` bytes without reading the rest. */
async function readBody(req: Request, max: number): Promise<string> {
  const declared = Number(req.headers.get("Content-Length") ?? "NaN");
  if (Number.isFinite(declared) && declared > max) throw new TooLarge(`${declared} bytes`);
  if (!req.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body) {
    size += chunk.length;
    if (size > max) throw new TooLarge(`over ${max} bytes`);
    chunks.push(chunk);
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return new TextDecoder("utf-8", { fatal: true }).decode(all);
}

/** The posted items: a JSON array (or one object), or JSON lines. */
function parseItems(text: string, contentType: string): unknown[] {
  const lines = /ndjson|jsonl|json-seq|jsonlines/i.test(contentType);
  if (!lines) {
    let v: unknown;
    try {
      // Numbers a double would change are kept as their digits, as `vigil ingest` does.
      v = parseJsonExact(text);
    } catch (e) {
      throw new SyntaxError(`the body is not JSON: ${(e as Error).message}`);
    }
    return Array.isArray(v) ? v : [v];
  }
  const out: unknown[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      out.push(parseJsonExact(line));
    } catch (e) {
      throw new SyntaxError(`line ${i + 1} is not JSON: ${(e as Error).message}`);
    }
  });
  return out;
}

/** Routes under /api/v1. */
export function apiRoutes(deps: WebDeps): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  const now = deps.now ?? Date.now;

  app.post("/events", requireApiAccess(deps.access, "ingest"), async (c) => {
    const token = c.get("token")!;
    const source = token.name;
    // A token made before sources were checked against token names, or a source added since.
    const clash = sourceClash(source, configuredSourceNames(deps));
    if (clash !== null) {
      return c.json({
        error: `the token ${source} is named like the configured source ${clash}, so its ` +
          "events could pass for that source's: revoke it and create one with another name",
      }, 403);
    }
    let items: unknown[];
    try {
      items = parseItems(
        await readBody(c.req.raw, MAX_BODY_BYTES),
        c.req.header("Content-Type") ?? "",
      );
    } catch (e) {
      if (e instanceof TooLarge) {
        return c.json(
          { error: `the body is larger than ${MAX_BODY_BYTES} bytes (${e.message})` },
          413,
        );
      }
      if (e instanceof SyntaxError || e instanceof TypeError) {
        return c.json({ error: e.message }, 400);
      }
      throw e;
    }
    if (items.length > MAX_EVENTS) {
      return c.json({ error: `${items.length} events in one request; at most ${MAX_EVENTS}` }, 413);
    }
    if (items.length === 0) return c.json({ error: "no events in the body" }, 400);
    const ingestTs = now() * 1000;
    const events: NewEvent[] = [];
    for (let i = 0; i < items.length; i++) {
      try {
        const ev = validateEvent(items[i], { source, ingestTs });
        checkTokenEvent(ev);
        events.push(stampToken(ev, token));
      } catch (e) {
        if (e instanceof EventValidationError || e instanceof EventLimitError) {
          return c.json(
            { error: `event ${i}: ${e.message}`, index: i, field: e.field ?? null },
            400,
          );
        }
        throw e;
      }
    }
    let result;
    try {
      result = await deps.store.append({ source, events });
    } catch (e) {
      log("error", "cannot store posted application events", { source, error: String(e) });
      return c.json({ error: `the events could not be stored: ${(e as Error).message}` }, 503);
    }
    return c.json({
      stored: result.count,
      first_seq: result.firstSeq,
      last_seq: result.firstSeq + result.count - 1,
    }, 201);
  });

  app.get("/events", requireApiAccess(deps.access, "read", ["admin", "auditor"]), async (c) => {
    let req;
    try {
      req = parseSearch((k) => c.req.query(k), { limit: API_PAGE });
    } catch (e) {
      if (e instanceof SearchParamError) return c.json({ error: e.message }, 400);
      throw e;
    }
    const upTo = deps.store.size;
    await recordUiAction(deps, c, { command: "API_SEARCH", context: describeFilter(req) });
    const page = await searchEvents(deps, req, upTo);
    return c.json({ events: page.events, next_before: page.next });
  });

  return app;
}
