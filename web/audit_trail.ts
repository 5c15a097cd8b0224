/**
 * The UI's own audit trail: each login, failed login, logout, and each action that reads or
 * exports audit data becomes an `app` event of source `vigil-ui` in the chain — durable before
 * the data is shown, so that no one reads the trail without leaving a trace in it. If the event
 * cannot be stored, the action fails.
 */

import type { JsonObject, NewEvent } from "../daemon/event/model.ts";
import { validateEvent } from "../daemon/event/validate.ts";
import type { WebDeps } from "./deps.ts";
import { actorName, clientAddr, type WebContext } from "./env.ts";

/** The `source` of the UI's events. */
export const UI_SOURCE = "vigil-ui";

/** What the UI records: LOGIN, LOGIN_FAILED, LOGOUT, SEARCH, VIEW_EVENT, EXPORT, … */
export interface UiAction {
  command: string;
  /** The acting user when not the context's (a login attempt names the user it tried). */
  actor?: string;
  /** What was acted on (`event 42`, a token name, a user name). */
  object?: string;
  /** Details: the filters of a search, the period of an export. */
  context?: JsonObject;
  /** Set for refusals and failures. */
  error?: string;
}

/** Appends one UI event and waits until it is durable. */
export async function recordUiAction(
  deps: WebDeps,
  c: WebContext,
  action: UiAction,
): Promise<void> {
  const nowMs = (deps.now ?? Date.now)();
  const actor = action.actor ?? actorName(c);
  const raw: Record<string, unknown> = {
    ts: nowMs * 1000,
    kind: "app",
    role: actor,
    app_user: actor,
    client_addr: clientAddr(c),
    application_name: "vigil-web",
    command: action.command,
    object: action.object,
    context: action.context,
    error: action.error,
  };
  const ev: NewEvent = validateEvent(raw, { source: UI_SOURCE, ingestTs: nowMs * 1000 });
  await deps.store.append({ source: UI_SOURCE, events: [ev] });
}
